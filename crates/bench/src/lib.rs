//! recoup-bench: measures recoup the way it is used. `run` loads a real recoupd (in a process of its
//! own) with each RPC at several concurrency levels and reports throughput as a ratio to a bare tonic
//! echo measured in the same run; `seed` builds a realistic book through the public API; `import`
//! compares ImportAccounts with the database engine's own bulk rate; `fresh` imports a book on a new
//! database and measures time until usable, idle CPU and RecordPayment on it. Each write RPC's row
//! carries where its time went inside recoupd (`phases`). Speed is reported, never asserted.

pub mod book;
pub mod echo;
pub mod fresh;
pub mod harness;
pub mod load;
pub mod phases;
pub mod process;
pub mod report;
pub mod rpcs;
