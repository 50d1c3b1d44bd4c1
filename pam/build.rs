//! Links pam_ultraauth.so with `-z nodelete`.
//!
//! libpam dlopen()s and dlclose()s the module for every PAM handle. In a long-running
//! host (JupyterHub, polkit, a display manager) that reloads the module and its
//! dependencies on every login; keeping it loaded after the first removes that cost.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
