//! Out-of-band flows that verify the user at the provider.

pub mod code;
pub mod device;
pub mod polling;
pub mod push;
pub mod token;
