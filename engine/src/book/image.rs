//! A book as its resting orders: the form a snapshot stores.
//!
//! The pool, id map and level slab are internal layout; what a book *is* is its configuration,
//! its market reference and its resting orders in priority order. Serializing that, and
//! rebuilding a book by resting the orders again in the same order, gives a book that matches,
//! cancels and reports exactly as the original (slot numbers differ, and nothing observable
//! depends on them), with every pool sized from the configuration as in [`Book::new`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{AccountId, Book, BookConfig, OrderId, Stp, NIL};
use gavel_feeds::wire::Side;

/// One resting order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestingOrder {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: i64,
    qty: i64,
    stp: Stp,
    post_only: bool,
}

/// The stored form of a [`Book`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookImage {
    config: BookConfig,
    market_reference: Option<i64>,
    /// Bids best level first, then asks best level first; each level in time priority.
    orders: Vec<RestingOrder>,
}

impl Book {
    fn image(&self) -> BookImage {
        let mut orders = Vec::with_capacity(self.live);
        for ladder in [&self.bids, &self.asks] {
            for level in ladder.iter_best_first() {
                let mut slot = self.levels.levels[level as usize].head;
                while slot != NIL {
                    let s = &self.slots[slot as usize];
                    orders.push(RestingOrder {
                        id: s.id,
                        account: s.account,
                        side: s.side,
                        price: s.price,
                        qty: s.qty,
                        stp: s.stp,
                        post_only: s.post_only,
                    });
                    slot = s.next;
                }
            }
        }
        BookImage { config: self.config, market_reference: self.market_reference, orders }
    }

    fn from_image(image: BookImage) -> Result<Self, String> {
        let mut book = Book::new(image.config);
        book.market_reference = image.market_reference;
        let mut last: Option<(Side, i64)> = None;
        for (k, o) in image.orders.into_iter().enumerate() {
            let bad = |why: &str| format!("book image: order {k} (id {}): {why}", o.id);
            if o.side != Side::Bid && o.side != Side::Ask {
                return Err(bad("no side"));
            }
            if o.qty <= 0 {
                return Err(bad("quantity not positive"));
            }
            // Priority order: all bids before asks, each side best level first.
            if let Some((side, price)) = last {
                let worse_or_same = match (side, o.side) {
                    (Side::Bid, Side::Bid) => o.price <= price,
                    (Side::Ask, Side::Ask) => o.price >= price,
                    (Side::Bid, Side::Ask) => true,
                    _ => false,
                };
                if !worse_or_same {
                    return Err(bad("out of priority order"));
                }
            }
            if let (Some(bid), Side::Ask) = (book.best_bid(), o.side) {
                if o.price <= bid.0 {
                    return Err(bad("crosses the best bid"));
                }
            }
            if book.find_id(o.id).is_some() {
                return Err(bad("duplicate id"));
            }
            if book.free_head == NIL {
                return Err(bad("more orders than the pool holds"));
            }
            let position = book.ladder(o.side).find(o.price);
            if position.is_err() && book.ladder(o.side).is_full() {
                return Err(bad("more levels than the book holds"));
            }
            book.rest(position, o.id, o.account, o.side, o.price, o.qty, o.stp, o.post_only);
            last = Some((o.side, o.price));
        }
        Ok(book)
    }
}

impl Serialize for Book {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.image().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Book {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Book::from_image(BookImage::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book_with_orders() -> Book {
        let mut b = Book::new(BookConfig { order_capacity: 64, level_capacity: 8, ..BookConfig::default() });
        for (id, side, price, qty) in [(1, Side::Bid, 100, 5), (2, Side::Bid, 101, 3), (3, Side::Bid, 100, 7), (4, Side::Ask, 105, 2), (5, Side::Ask, 103, 9), (6, Side::Ask, 105, 4)] {
            b.place(id, id as AccountId, side, price, qty).unwrap();
        }
        b
    }

    #[test]
    fn a_book_round_trips_with_its_priority() {
        let b = book_with_orders();
        let json = serde_json::to_string(&b).unwrap();
        let back: Book = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        assert_eq!(back.len(), 6);
        assert_eq!(back.best_bid(), Some((101, 3)));
        assert_eq!(back.best_ask(), Some((103, 9)));
        assert_eq!(back.level_qty(Side::Bid, 100), 12);
        let ids: Vec<u64> = back.image().orders.iter().map(|o| o.id).collect();
        assert_eq!(ids, [2, 1, 3, 5, 4, 6], "best level first, time priority within a level");
    }

    #[test]
    fn a_damaged_image_is_refused() {
        let json = serde_json::to_string(&book_with_orders()).unwrap();
        for (from, to, why) in [
            ("\"id\":1,", "\"id\":2,", "duplicate id"),
            ("\"price\":105,\"qty\":2", "\"price\":100,\"qty\":2", "out of priority order"),
            ("\"qty\":9", "\"qty\":0", "quantity not positive"),
        ] {
            let bad = json.replacen(from, to, 1);
            assert_ne!(bad, json, "{from} not in the image");
            let err = serde_json::from_str::<Book>(&bad).err().expect(why).to_string();
            assert!(err.contains(why), "{err}");
        }
    }
}
