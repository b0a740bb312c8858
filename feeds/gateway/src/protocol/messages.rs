//! The message types: one fixed-size body per template, defined once by the
//! `messages!` table below (which also yields [`TEMPLATES`], the field list the
//! schema test compares with `sbe/gavel.xml`).

use super::reason;

/// A fixed-size little-endian field type.
pub trait Field: Sized {
    /// Bytes on the wire.
    const SIZE: usize;
    /// The schema's type name for it.
    const SBE_TYPE: &'static str;
    /// Writes the value at the start of `b` (which holds at least `SIZE` bytes).
    fn put(&self, b: &mut [u8]);
    /// Reads the value from the start of `b` (which holds at least `SIZE` bytes).
    fn get(b: &[u8]) -> Self;
}

macro_rules! int_field {
    ($($t:ty => $name:literal),*) => {$(
        impl Field for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            const SBE_TYPE: &'static str = $name;
            #[inline]
            fn put(&self, b: &mut [u8]) {
                b[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get(b: &[u8]) -> Self {
                let mut raw = [0u8; core::mem::size_of::<$t>()];
                raw.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_le_bytes(raw)
            }
        }
    )*};
}
int_field!(u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64", i64 => "int64");

impl Field for [u8; 32] {
    const SIZE: usize = 32;
    const SBE_TYPE: &'static str = "Bytes32";
    #[inline]
    fn put(&self, b: &mut [u8]) {
        b[..32].copy_from_slice(self);
    }
    #[inline]
    fn get(b: &[u8]) -> Self {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&b[..32]);
        raw
    }
}

/// Who may send a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
    /// Either way.
    Both,
}

/// One template's description (name, direction, fields in wire order).
#[derive(Clone, Copy, Debug)]
pub struct TemplateInfo {
    /// Template id.
    pub id: u16,
    /// Message name (as in the schema).
    pub name: &'static str,
    /// Who sends it.
    pub direction: Direction,
    /// `(field name, schema type, bytes)` in wire order.
    pub fields: &'static [(&'static str, &'static str, usize)],
}

macro_rules! messages {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $dir:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
            pub struct $name { $( $(#[$fdoc])* #[allow(missing_docs)] pub $field: $ty ),* }

            impl $name {
                /// Template id.
                pub const TEMPLATE_ID: u16 = $id;
                /// Bytes of the body.
                pub const BLOCK_LENGTH: usize = 0 $( + <$ty as Field>::SIZE )*;

                #[allow(unused_assignments, unused_variables, unused_mut)]
                fn write(&self, b: &mut [u8]) {
                    let mut o = 0;
                    $( Field::put(&self.$field, &mut b[o..]); o += <$ty as Field>::SIZE; )*
                }

                #[allow(unused_assignments, unused_variables, unused_mut)]
                fn read(b: &[u8]) -> Self {
                    let mut o = 0;
                    $( let $field = <$ty as Field>::get(&b[o..]); o += <$ty as Field>::SIZE; )*
                    Self { $($field),* }
                }
            }

            impl From<$name> for Message {
                fn from(m: $name) -> Message {
                    Message::$name(m)
                }
            }
        )*

        /// Any message of the protocol.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Message { $( #[allow(missing_docs)] $name($name) ),* }

        impl Message {
            /// Its template id.
            pub fn template_id(&self) -> u16 {
                match self { $( Message::$name(_) => $id ),* }
            }

            /// Bytes of its body.
            pub fn block_length(&self) -> usize {
                match self { $( Message::$name(_) => $name::BLOCK_LENGTH ),* }
            }

            /// Its name.
            pub fn name(&self) -> &'static str {
                match self { $( Message::$name(_) => stringify!($name) ),* }
            }

            /// Who may send it.
            pub fn direction(&self) -> Direction {
                match self { $( Message::$name(_) => Direction::$dir ),* }
            }

            /// Writes the body into `b` (at least [`Message::block_length`] bytes).
            pub fn write_body(&self, b: &mut [u8]) {
                match self { $( Message::$name(m) => m.write(b) ),* }
            }

            /// Decodes a body of `template`. A body longer than the template's block
            /// (a newer minor version) is read up to the block; a shorter one is
            /// [`reason::SHORT_BLOCK`], an unknown template [`reason::UNKNOWN_TEMPLATE`].
            pub fn decode(template: u16, body: &[u8]) -> Result<Message, u16> {
                match template {
                    $( $id => if body.len() < $name::BLOCK_LENGTH {
                        Err(reason::SHORT_BLOCK)
                    } else {
                        Ok(Message::$name($name::read(body)))
                    }, )*
                    _ => Err(reason::UNKNOWN_TEMPLATE),
                }
            }
        }

        /// Every template, in id order.
        pub const TEMPLATES: &[TemplateInfo] = &[ $(
            TemplateInfo {
                id: $id,
                name: stringify!($name),
                direction: Direction::$dir,
                fields: &[ $( (stringify!($field), <$ty as Field>::SBE_TYPE, <$ty as Field>::SIZE) ),* ],
            },
        )* ];
    };
}

/// Sides on the wire.
pub mod side {
    /// Buy.
    pub const BUY: u8 = 1;
    /// Sell.
    pub const SELL: u8 = 2;
}

/// Order types of [`NewOrder::order_type`].
pub mod order_type {
    /// Rests at its limit.
    pub const LIMIT: u8 = 1;
    /// Takes what is there, the rest is cancelled.
    pub const MARKET: u8 = 2;
    /// Immediate-or-cancel at its limit.
    pub const IOC: u8 = 3;
    /// Fill-or-kill at its limit.
    pub const FOK: u8 = 4;
}

/// Bits of [`NewOrder::flags`].
pub mod order_flag {
    /// Rejected if it would take liquidity.
    pub const POST_ONLY: u8 = 1;
    /// May only reduce the position.
    pub const REDUCE_ONLY: u8 = 2;
}

/// Roles of an API key ([`LogonAck::role`]).
pub mod role {
    /// Trades in the own book.
    pub const TRADER: u8 = 1;
    /// Trades and takes liquidation auctions.
    pub const LIQUIDATOR: u8 = 2;
    /// Reads public market data only.
    pub const MARKET_DATA: u8 = 3;
    /// Reads data and counters.
    pub const ADMIN: u8 = 4;
}

/// Bits of [`Subscribe::channels`].
pub mod channel {
    /// L2 incremental updates, trades and marks.
    pub const MARKET_DATA: u32 = 1;
    /// Liquidation auctions.
    pub const AUCTIONS: u32 = 2;
}

messages! {
    /// Server → client on connect: the nonce the logon signs.
    Challenge = 1, ToClient { nonce: [u8; 32] }
    /// Client → server: API key id and HMAC-SHA256(secret, nonce ‖ key_id little-endian).
    Logon = 2, ToServer { key_id: u64, signature: [u8; 32] }
    /// Logon accepted: the key's account and role, and the server's heartbeat interval.
    LogonAck = 3, ToClient { account: u64, role: u8, heartbeat_ms: u32 }
    /// Logon refused ([`reason`]); the server closes the session.
    LogonReject = 4, ToClient { reason: u16 }
    /// Liveness, either way; a server heartbeat carries its event time.
    Heartbeat = 5, Both { time_ns: i64 }
    /// A frame was refused ([`reason`]); `ref_sequence`/`ref_template` name it.
    SessionReject = 6, ToClient { ref_sequence: u64, ref_template: u16, reason: u16 }
    /// Orderly close, either way.
    Logout = 7, Both { reason: u16 }
    /// A new order in gavel's own book ([`side`], [`order_type`], [`order_flag`]).
    NewOrder = 10, ToServer { client_order_id: u64, instrument: u32, side: u8, order_type: u8, flags: u8, price: i64, qty: i64 }
    /// Cancel one resting order by its client order id.
    CancelOrder = 11, ToServer { client_order_id: u64, instrument: u32 }
    /// Cancel `orig_client_order_id` and enter `client_order_id` at the new price and size (limit, loses priority).
    CancelReplace = 12, ToServer { orig_client_order_id: u64, client_order_id: u64, instrument: u32, side: u8, price: i64, qty: i64 }
    /// Cancel every resting order of the account in `instrument` (`u32::MAX`: all instruments).
    MassCancel = 13, ToServer { instrument: u32 }
    /// Order life cycle: `exec_type` 1 ack (qty resting), 2 fill, 3 cancel, 4 reject (`reason` = engine code).
    ExecutionReport = 20, ToClient { client_order_id: u64, instrument: u32, exec_type: u8, side: u8, reason: u16, price: i64, qty: i64, time_ns: i64 }
    /// Ask for channels ([`channel`] bits); replaces the previous set.
    Subscribe = 30, ToServer { channels: u32 }
    /// Ask for a snapshot of one instrument's own book.
    SnapshotRequest = 31, ToServer { instrument: u32 }
    /// L2 incremental: the new total at one price (0 removes the level).
    BookLevel = 32, ToClient { md_sequence: u64, instrument: u32, side: u8, price: i64, qty: i64 }
    /// A snapshot begins; it is consistent with market data up to `md_sequence`.
    SnapshotBegin = 33, ToClient { md_sequence: u64, instrument: u32, levels: u32 }
    /// One level of a snapshot, best first per side.
    SnapshotLevel = 34, ToClient { instrument: u32, side: u8, price: i64, qty: i64 }
    /// The snapshot is complete.
    SnapshotEnd = 35, ToClient { md_sequence: u64, instrument: u32 }
    /// A trade in the own book; `side` is the aggressor's.
    Trade = 36, ToClient { md_sequence: u64, instrument: u32, side: u8, price: i64, qty: i64, time_ns: i64 }
    /// The engine's mark price.
    MarkPrice = 37, ToClient { md_sequence: u64, instrument: u32, price: i64, time_ns: i64 }
    /// Gap recovery: resend market data `from..=to` (inclusive) if still held.
    ReplayRequest = 38, ToServer { from_sequence: u64, to_sequence: u64 }
    /// Private: a liquidation of the session's account changed stage.
    LiquidationNotice = 40, ToClient { liquidation_id: u64, instrument: u32, stage: u8, side: u8, price: i64, qty: i64, time_ns: i64 }
    /// Private: a ledger movement of the session's account (fill, fee, penalty, ADL).
    AccountUpdate = 41, ToClient { instrument: u32, kind: u8, price: i64, amount: i64, time_ns: i64 }
    /// Private: the account's position after a fill.
    PositionUpdate = 42, ToClient { instrument: u32, position: i64, time_ns: i64 }
    /// Private: a predictive margin call — a k-sigma move would make the account liquidatable at `liquidation_price`.
    MarginCall = 43, ToClient { instrument: u32, liquidation_price: i64, distance_sigma_milli: i64, time_ns: i64 }
    /// Liquidation auction feed: 1 start, 2 price, 3 taken, 4 end; `side` is the liquidator's.
    AuctionUpdate = 50, ToClient { auction_id: u64, instrument: u32, code: u8, side: u8, price: i64, remaining: i64, time_ns: i64 }
    /// A liquidator takes `qty` of an auction at its current price if not worse than `max_price`.
    LiquidatorTake = 51, ToServer { take_id: u64, auction_id: u64, max_price: i64, qty: i64 }
    /// Reply to a take: `accepted` 1/0, price and lots taken.
    TakeReport = 52, ToClient { take_id: u64, auction_id: u64, accepted: u8, reason: u16, price: i64, qty: i64 }
    /// Admin: ask for the counters.
    StatsRequest = 60, ToServer { }
    /// Admin: gateway counters and ring occupancy.
    Stats = 61, ToClient { sessions: u32, logons: u64, protocol_errors: u64, rate_limited: u64, slow_disconnects: u64, orders_in: u64, reports_out: u64, input_ring_used: u32, output_ring_used: u32 }
    /// Admin: an option-implied volatility for `instrument` (annualised, millionths), which the engine's margin calls read.
    ImpliedVol = 62, ToServer { instrument: u32, vol_e6: i64 }
}
