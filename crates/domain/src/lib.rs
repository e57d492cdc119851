//! recoup's pure rules: money, the account model, ageing, payment allocation, calls and the contact
//! rules, promises, disputes, categories, statutory interest, plans and their schedules, the
//! worklist's ranking, and the policy they follow (with what makes one valid).
//! No I/O, no protobuf, no SQL: every other crate builds on this one.

pub mod account;
pub mod ageing;
pub mod allocation;
pub mod call;
pub mod category;
pub mod contact;
pub mod dispute;
pub mod fingerprint;
pub mod floor;
pub mod interest;
pub mod money;
pub mod payment;
pub mod plan;
pub mod policy;
pub mod promise;
pub mod report;
pub mod schedule;
pub mod text;
pub mod violations;
pub mod worklist;

pub use money::{Currency, Money, MoneyError};
pub use violations::Violations;
