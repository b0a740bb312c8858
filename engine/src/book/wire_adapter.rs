//! Decoding of wire [`EventKind::ClientOrder`] and [`EventKind::ClientCancel`]
//! events into book requests. The book's own API stays plain; this is the glue.

use crate::risk::{account_from_wire, AccountId};
use super::{NewOrder, OrderType, Reject, Stp};
use gavel_feeds::wire::{order_flags, ClientCancel, ClientOrder, Event, EventKind, Side};

/// A book request decoded from a wire event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A new order.
    New(NewOrder),
    /// Cancel of `order_id` by `account`.
    Cancel {
        /// Account asking.
        account: AccountId,
        /// Order to cancel.
        order_id: u64,
    },
}

/// Decodes a client event; `None` for kinds that are not client requests.
/// A bad side or order type byte is a rejection, never a panic.
pub fn decode(ev: &Event) -> Option<Result<Request, Reject>> {
    match EventKind::from_u8(ev.kind)? {
        EventKind::ClientOrder => Some(decode_order(ev).map(Request::New)),
        EventKind::ClientCancel => {
            let c: ClientCancel = ev.payload();
            Some(account_from_wire(c.account).ok_or(Reject::InvalidAccount).map(|account| Request::Cancel {
                account,
                order_id: c.order_id,
            }))
        }
        _ => None,
    }
}

fn decode_order(ev: &Event) -> Result<NewOrder, Reject> {
    let side = match Side::from_u8(ev.side) {
        Some(s @ (Side::Bid | Side::Ask)) => s,
        _ => return Err(Reject::InvalidSide),
    };
    let order_type = match ev.flags & order_flags::TYPE_MASK {
        order_flags::TYPE_LIMIT => OrderType::Limit,
        order_flags::TYPE_IOC => OrderType::Ioc,
        order_flags::TYPE_FOK => OrderType::Fok,
        order_flags::TYPE_MARKET => OrderType::Market,
        _ => return Err(Reject::InvalidFlags),
    };
    let p: ClientOrder = ev.payload();
    let account = account_from_wire(p.account).ok_or(Reject::InvalidAccount)?;
    Ok(NewOrder {
        id: ev.sequence,
        account,
        side,
        order_type,
        price: p.price,
        qty: p.qty,
        post_only: ev.flags & order_flags::POST_ONLY != 0,
        reduce_only: ev.flags & order_flags::REDUCE_ONLY != 0,
        stp: Stp::from_bits((ev.flags & order_flags::STP_MASK) >> order_flags::STP_SHIFT),
    })
}
