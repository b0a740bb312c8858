//! `gavel compare --report` opened in a real headless browser (Debian's chromium).
//!
//! The report is checked on the DOM as chromium parsed it (`--dump-dom`), not on
//! the file text, and on a screenshot that must decode as a PNG of the window's
//! size with real drawing in it. The test is ignored by default because it needs
//! chromium; `.ci/run` installs chromium and runs it with `--ignored`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WINDOW_WIDTH: u32 = 1000;
const WINDOW_HEIGHT: u32 = 2600;

/// A fresh folder under the system temp dir, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("gavel-report-browser-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create scratch dir");
        ScratchDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_ok(command: &mut Command, what: &str) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn gavel(args: &[&str]) -> Output {
    run_ok(Command::new(env!("CARGO_BIN_EXE_gavel")).args(args), &format!("gavel {}", args.join(" ")))
}

/// `chromium` on PATH, else `/usr/bin/chromium`; a clear panic when neither is there.
fn chromium() -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("chromium");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let fallback = PathBuf::from("/usr/bin/chromium");
    assert!(
        fallback.is_file(),
        "chromium not found on PATH nor at /usr/bin/chromium; install it (`apt-get install -y chromium`, as .ci/run does)"
    );
    fallback
}

/// Runs headless chromium on `page` with a fresh profile and the extra `args`.
fn headless(page: &Path, scratch: &ScratchDir, profile: &str, args: &[String]) -> Output {
    let profile_dir = scratch.join(profile);
    std::fs::create_dir_all(&profile_dir).expect("profile dir");
    let url = format!("file://{}", page.canonicalize().expect("report path").display());
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .args(args)
        .arg(url);
    run_ok(&mut command, "chromium")
}

/// One element found in serialized HTML: its attributes and inner HTML.
struct Element<'a> {
    open_tag: &'a str,
    inner: &'a str,
}

impl Element<'_> {
    fn attr(&self, name: &str) -> Option<&str> {
        attribute(self.open_tag, name)
    }
}

/// The value of `name` in an opening tag as chromium serializes it (`name="value"`).
fn attribute<'a>(open_tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let start = open_tag.find(&needle)? + needle.len();
    let len = open_tag[start..].find('"')?;
    Some(&open_tag[start..start + len])
}

/// Every `<tag …>…</tag>` in `html`, outermost, in order (no nesting of the same tag assumed).
fn elements<'a>(html: &'a str, tag: &str) -> Vec<Element<'a>> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // `<tr` must not match `<track`: the tag name ends at a space, `>` or `/`.
        if !after.starts_with([' ', '>', '/']) {
            rest = after;
            continue;
        }
        let tag_end = after.find('>').expect("unterminated tag in dumped DOM");
        let open_tag = &rest[at..at + open.len() + tag_end + 1];
        let body = &after[tag_end + 1..];
        let (inner, next) = if open_tag.ends_with("/>") {
            ("", body)
        } else {
            let end = body.find(&close).unwrap_or(body.len());
            (&body[..end], &body[(end + close.len()).min(body.len())..])
        };
        found.push(Element { open_tag, inner });
        rest = next;
    }
    found
}

fn by_id<'a>(html: &'a str, tag: &str, id: &str) -> Element<'a> {
    elements(html, tag)
        .into_iter()
        .find(|e| e.attr("id") == Some(id))
        .unwrap_or_else(|| panic!("no <{tag} id=\"{id}\"> in the DOM chromium built"))
}

/// The text of a cell: inner HTML without tags, trimmed.
fn text(inner: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// Rows of a table as lists of cell texts (`th` and `td` alike).
fn table_rows(table: &Element<'_>) -> Vec<Vec<String>> {
    elements(table.inner, "tr")
        .iter()
        .map(|row| {
            let mut cells: Vec<(usize, String)> = Vec::new();
            for tag in ["th", "td"] {
                for cell in elements(row.inner, tag) {
                    let offset = cell.open_tag.as_ptr() as usize - row.inner.as_ptr() as usize;
                    cells.push((offset, text(cell.inner)));
                }
            }
            cells.sort_by_key(|c| c.0);
            cells.into_iter().map(|c| c.1).collect()
        })
        .collect()
}

fn polyline_points(polyline: &Element<'_>) -> usize {
    polyline.attr("points").unwrap_or("").split_whitespace().filter(|p| p.contains(',')).count()
}

fn check_dom(dom: &str) -> usize {
    assert!(dom.contains("<html"), "chromium dumped no document:\n{}", &dom[..dom.len().min(500)]);
    assert!(!dom.contains("<script"), "the report must not need scripts");

    for id in ["chart-mark", "chart-fund", "chart-bars", "chart-latency"] {
        let svg = by_id(dom, "svg", id);
        let series: usize = svg
            .attr("data-series")
            .unwrap_or_else(|| panic!("{id} has no data-series"))
            .parse()
            .unwrap_or_else(|e| panic!("{id} data-series: {e}"));
        assert!(series >= 1, "{id} draws no series");
    }

    // The mark chart: its first series is the mark path, drawn as a polyline.
    let mark = by_id(dom, "svg", "chart-mark");
    let groups = elements(mark.inner, "g");
    let first = groups
        .iter()
        .find(|g| attribute(g.open_tag, "class").is_some_and(|c| c.split(' ').any(|w| w == "series")))
        .expect("the mark chart has no series group");
    let lines = elements(first.inner, "polyline");
    assert_eq!(lines.len(), 1, "the mark series is one polyline");
    let points = polyline_points(&lines[0]);
    assert!(points >= 2, "the mark polyline has {points} points");
    let declared: usize = first.attr("data-points").expect("data-points").parse().expect("data-points is a number");
    assert!(declared >= points, "data-points {declared} < drawn {points} (thinning only drops points)");

    // The comparison table: one column per policy, and money is conserved under every policy.
    let table = by_id(dom, "table", "comparison");
    let rows = table_rows(&table);
    let header = rows.first().expect("comparison table has no rows");
    assert_eq!(header[0], "metric");
    let policies = &header[1..];
    assert!(!policies.is_empty(), "no policy columns");
    for row in &rows {
        assert_eq!(row.len(), header.len(), "row {row:?} does not have one cell per policy");
    }
    let conservation = rows
        .iter()
        .find(|r| r[0] == "conservation error")
        .expect("no `conservation error` row in the comparison table");
    assert!(conservation[1..].iter().all(|c| c == "0"), "conservation error is not 0 everywhere: {conservation:?}");

    // The bars: one bar per policy per metric.
    let bars = by_id(dom, "svg", "chart-bars");
    let bar_count = elements(bars.inner, "rect").iter().filter(|r| r.attr("class") == Some("bar")).count();
    assert_eq!(bar_count, policies.len() * (rows.len() - 1), "one bar per policy and metric");

    // The latency chart: one polyline per stage.
    let latency = by_id(dom, "svg", "chart-latency");
    let stages: usize = latency.attr("data-series").unwrap().parse().unwrap();
    let stage_groups: Vec<_> = elements(latency.inner, "g")
        .into_iter()
        .filter(|g| g.attr("class").is_some_and(|c| c.split(' ').any(|w| w == "series")))
        .collect();
    assert_eq!(stage_groups.len(), stages, "one series group per stage");
    for group in &stage_groups {
        let lines = elements(group.inner, "polyline");
        assert_eq!(lines.len(), 1, "stage {:?} has {} polylines", group.attr("data-label"), lines.len());
        assert!(polyline_points(&lines[0]) >= 2, "stage {:?} has fewer than 2 points", group.attr("data-label"));
    }
    policies.len()
}

fn check_screenshot(png_path: &Path, min_first_colour: usize) {
    let bytes = std::fs::read(png_path).unwrap_or_else(|e| panic!("screenshot {}: {e}", png_path.display()));
    assert!(bytes.len() > 33, "screenshot is {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk is not IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (WINDOW_WIDTH, WINDOW_HEIGHT), "screenshot size");

    let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("PNG header decodes");
    let mut buffer = vec![0; reader.output_buffer_size().expect("PNG buffer size")];
    let info = reader.next_frame(&mut buffer).expect("PNG pixels decode");
    let samples = info.color_type.samples();
    let mut colours = HashSet::new();
    let mut series_blue = 0usize;
    for row in buffer[..info.buffer_size()].chunks_exact(info.line_size) {
        for pixel in row[..info.width as usize * samples].chunks_exact(samples) {
            // Grey (1 or 2 samples) or RGB(A): alpha is ignored, the page is opaque.
            let rgb = if samples >= 3 { [pixel[0], pixel[1], pixel[2]] } else { [pixel[0]; 3] };
            colours.insert(rgb);
            // #1f77b4 is the first palette colour: the mark line, its legend swatch, the first bars.
            if rgb == [0x1f, 0x77, 0xb4] {
                series_blue += 1;
            }
        }
    }
    assert!(colours.len() > 50, "the screenshot has only {} distinct colours: nothing was drawn", colours.len());
    assert!(series_blue > min_first_colour, "only {series_blue} pixels of the first series colour: the charts did not paint");
}

#[test]
#[ignore = "needs chromium (installed by .ci/run)"]
fn report_renders_in_headless_chromium() {
    let scratch = ScratchDir::new("test");
    let scenario = scratch.join("scenario");
    let report = scratch.join("report.html");
    let shot = scratch.join("report.png");
    gavel(&["gen", "crash", "--out", scenario.to_str().unwrap(), "--accounts", "300", "--duration", "60"]);
    gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--report", report.to_str().unwrap()]);

    let dom = headless(&report, &scratch, "profile-dom", &["--dump-dom".to_string()]);
    let dom = String::from_utf8(dom.stdout).expect("the dumped DOM is UTF-8");
    let policies = check_dom(&dom);
    assert_eq!(policies, 5, "gavel compare runs every built-in policy by default");

    headless(
        &report,
        &scratch,
        "profile-shot",
        &[format!("--screenshot={}", shot.display()), format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}")],
    );
    check_screenshot(&shot, 200);
    if let Some(keep) = std::env::var_os("GAVEL_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, &keep).expect("copy screenshot");
    }
}

#[test]
#[ignore = "needs chromium (installed by .ci/run)"]
fn study_report_renders_in_headless_chromium() {
    let scratch = ScratchDir::new("study");
    let (json, page, shot) = (scratch.join("study.json"), scratch.join("study.html"), scratch.join("study.png"));
    gavel(&[
        "study", "--seeds", "1..2", "--drops", "15", "--accounts", "60", "--duration", "20", "--policy", "naive", "--policy", "adaptive",
        "--json", json.to_str().unwrap(), "--html", page.to_str().unwrap(),
    ]);
    let dom = headless(&page, &scratch, "profile-dom", &["--dump-dom".to_string()]);
    let dom = String::from_utf8(dom.stdout).expect("the dumped DOM is UTF-8");
    assert!(!dom.contains("<script"), "the page must not need scripts");
    for metric in ["total_loss_to_others", "arrival_slippage_bps", "equity_kept"] {
        // Two policies, a dot per task (2 tasks) each, and a mean with its interval per row.
        let dist = by_id(&dom, "svg", &format!("dist-{metric}"));
        assert_eq!(dist.attr("data-series"), Some("2"), "{metric}");
        let dots = elements(dist.inner, "circle").iter().filter(|c| c.attr("class") == Some("task")).count();
        assert_eq!(dots, 4, "{metric}: one dot per task and policy");
        assert_eq!(elements(dist.inner, "rect").iter().filter(|r| r.attr("class") == Some("mean")).count(), 2, "{metric}");
        // The paired chart: adaptive − naive, with its zero line.
        let paired = by_id(&dom, "svg", &format!("paired-{metric}"));
        assert_eq!(paired.attr("data-series"), Some("1"), "{metric}");
        assert_eq!(elements(paired.inner, "line").iter().filter(|l| l.attr("class") == Some("zero")).count(), 1, "{metric}");
        assert!(text(paired.inner).contains("adaptive − naive"), "{metric}");
    }
    headless(
        &page,
        &scratch,
        "profile-shot",
        &[format!("--screenshot={}", shot.display()), format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}")],
    );
    check_screenshot(&shot, 50);
}
