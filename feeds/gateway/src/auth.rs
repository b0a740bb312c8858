//! API keys and logon: a keys file maps key ids to a secret, an account and a
//! role; a client proves it holds the secret by sending
//! HMAC-SHA256(secret, nonce ‖ key_id as 8 little-endian bytes) over the
//! 32-byte nonce the server sent on connect, so the secret never crosses the wire.
//!
//! Keys file (TOML, unknown keys are errors):
//! ```toml
//! [[key]]
//! id = 1                  # 1 ..= 2^32 - 1 (a liquidator's id in the engine)
//! secret = "…64 hex…"     # 32 bytes
//! account = 0             # the engine account it trades for
//! role = "trader"         # trader | liquidator | market-data | admin
//! ```

use std::collections::HashMap;

use gavel_feeds::{InputError, Location};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use crate::protocol::role;

/// One API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Key id (what the logon names; a liquidator's id in the engine).
    pub id: u64,
    /// The shared secret.
    pub secret: [u8; 32],
    /// Engine account the key trades for.
    pub account: u64,
    /// [`role`] code.
    pub role: u8,
}

/// The keys a server accepts.
#[derive(Clone, Debug, Default)]
pub struct KeyTable {
    keys: HashMap<u64, ApiKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    key: Vec<toml::Spanned<KeyEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    id: i64,
    secret: String,
    account: i64,
    role: String,
}

/// The role code of a role name.
pub fn role_code(name: &str) -> Option<u8> {
    Some(match name {
        "trader" => role::TRADER,
        "liquidator" => role::LIQUIDATOR,
        "market-data" => role::MARKET_DATA,
        "admin" => role::ADMIN,
        _ => return None,
    })
}

/// The name of a role code.
pub fn role_name(code: u8) -> &'static str {
    match code {
        role::TRADER => "trader",
        role::LIQUIDATOR => "liquidator",
        role::MARKET_DATA => "market-data",
        role::ADMIN => "admin",
        _ => "unknown",
    }
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let t = text.as_bytes();
    if t.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in t.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

impl KeyTable {
    /// Parses a keys file's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Self, InputError> {
        let line_of = |at: usize| Location::Line(1 + text[..at.min(text.len())].matches('\n').count() as u64);
        let file: KeysFile = toml::from_str(text).map_err(|e| {
            let loc = e.span().map_or(Location::Line(0), |s| line_of(s.start));
            InputError::new(source, loc, "key", e.message().to_string())
        })?;
        let mut keys = HashMap::new();
        for entry in &file.key {
            let at = line_of(entry.span().start);
            let k = entry.get_ref();
            let err = |field: &str, msg: String| InputError::new(source, at, field, msg);
            if !(1..=i64::from(u32::MAX)).contains(&k.id) {
                return Err(err("id", format!("{} is outside 1..=4294967295", k.id)));
            }
            if k.account < 0 || k.account > i64::from(u32::MAX - 1) {
                return Err(err("account", format!("{} is outside 0..=4294967294", k.account)));
            }
            let secret = from_hex(&k.secret).ok_or_else(|| err("secret", "must be 64 hex digits (32 bytes)".into()))?;
            let role = role_code(&k.role).ok_or_else(|| err("role", format!("{:?} is not trader, liquidator, market-data or admin", k.role)))?;
            let key = ApiKey { id: k.id as u64, secret, account: k.account as u64, role };
            if keys.insert(key.id, key).is_some() {
                return Err(err("id", format!("key id {} appears twice", k.id)));
            }
        }
        Ok(Self { keys })
    }

    /// Builds a table from keys (ids must be distinct; later ones win).
    pub fn from_keys(keys: impl IntoIterator<Item = ApiKey>) -> Self {
        Self { keys: keys.into_iter().map(|k| (k.id, k)).collect() }
    }

    /// The key with `id`.
    pub fn get(&self, id: u64) -> Option<&ApiKey> {
        self.keys.get(&id)
    }

    /// Every key, by id.
    pub fn keys(&self) -> impl Iterator<Item = &ApiKey> {
        let mut v: Vec<&ApiKey> = self.keys.values().collect();
        v.sort_by_key(|k| k.id);
        v.into_iter()
    }

    /// The keys file text for this table.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        for k in self.keys() {
            s.push_str(&format!("[[key]]\nid = {}\nsecret = \"{}\"\naccount = {}\nrole = \"{}\"\n\n", k.id, to_hex(&k.secret), k.account, role_name(k.role)));
        }
        s
    }

    /// The key that signed `nonce` with `signature`, if any.
    pub fn verify(&self, key_id: u64, nonce: &[u8; 32], signature: &[u8; 32]) -> Option<&ApiKey> {
        let key = self.keys.get(&key_id)?;
        let k = hmac::Key::new(hmac::HMAC_SHA256, &key.secret);
        hmac::verify(&k, &signed_bytes(nonce, key_id), signature).ok().map(|_| key)
    }
}

fn signed_bytes(nonce: &[u8; 32], key_id: u64) -> [u8; 40] {
    let mut msg = [0u8; 40];
    msg[..32].copy_from_slice(nonce);
    msg[32..].copy_from_slice(&key_id.to_le_bytes());
    msg
}

/// The logon signature a client sends.
pub fn sign(secret: &[u8; 32], nonce: &[u8; 32], key_id: u64) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&k, &signed_bytes(nonce, key_id));
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// 32 random bytes from the operating system (nonces, demo secrets).
pub fn random_bytes() -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    SystemRandom::new().fill(&mut out).map_err(|_| "the system random source failed".to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> KeyTable {
        KeyTable::from_keys([ApiKey { id: 7, secret: [3; 32], account: 2, role: role::TRADER }])
    }

    #[test]
    fn a_good_signature_verifies_and_a_bad_one_does_not() {
        let t = table();
        let nonce = [9u8; 32];
        let sig = sign(&[3; 32], &nonce, 7);
        assert_eq!(t.verify(7, &nonce, &sig).map(|k| k.account), Some(2));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(t.verify(7, &nonce, &bad).is_none());
        assert!(t.verify(8, &nonce, &sig).is_none(), "unknown key id");
        assert!(t.verify(7, &[8u8; 32], &sig).is_none(), "another nonce");
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let k = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&k, b"what do ya want for nothing?");
        assert_eq!(to_hex(tag.as_ref()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn keys_file_round_trips_and_bad_fields_are_named() {
        let t = table();
        let text = t.to_toml();
        let back = KeyTable::parse("keys.toml", &text).unwrap();
        assert_eq!(back.get(7), t.get(7));
        let bad = text.replace("role = \"trader\"", "role = \"god\"");
        let e = KeyTable::parse("keys.toml", &bad).unwrap_err();
        assert_eq!((e.field.as_str(), e.location), ("role", Location::Line(1)));
        let e = KeyTable::parse("keys.toml", &text.replace("account = 2", "account = 2\ncolour = 1")).unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
        let e = KeyTable::parse("keys.toml", &text.replace("id = 7", "id = 0")).unwrap_err();
        assert_eq!(e.field, "id");
        let short = text.replace(&to_hex(&[3; 32]), "abcd");
        assert_eq!(KeyTable::parse("keys.toml", &short).unwrap_err().field, "secret");
    }
}
