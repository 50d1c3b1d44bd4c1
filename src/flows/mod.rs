//! Out-of-band flows that verify the user at the provider.

pub mod device;
pub mod token;
