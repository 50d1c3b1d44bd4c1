//! The PAM conversation behind a trait, so the login logic can be tested without libpam.

use std::ffi::{c_int, c_void};

use pam::constants::{PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO};
use pam::conv::Conv;
use pam::module::PamHandle;
use ultraauth_proto::{MessageStyle, PromptStyle};

use crate::error::ModuleError;

/// Shows prompts and messages to the user through the PAM application.
pub trait Conversation {
    /// Shows a prompt and returns the reply; `None` when the application returned none
    /// (pamela, for example, returns NULL for echo-on prompts).
    fn prompt(&mut self, style: PromptStyle, text: &str) -> Result<Option<String>, ModuleError>;

    /// Shows a message that needs no reply. A failure is ignored because the message is
    /// only informative and some applications drop such messages anyway.
    fn show(&mut self, style: MessageStyle, text: &str);
}

/// The conversation function the PAM application registered.
pub struct PamConversation<'a> {
    conv: Conv<'a>,
}

impl<'a> PamConversation<'a> {
    pub fn new(conv: Conv<'a>) -> Self {
        PamConversation { conv }
    }
}

impl Conversation for PamConversation<'_> {
    fn prompt(&mut self, style: PromptStyle, text: &str) -> Result<Option<String>, ModuleError> {
        let pam_style = match style {
            PromptStyle::EchoOn => PAM_PROMPT_ECHO_ON,
            PromptStyle::EchoOff => PAM_PROMPT_ECHO_OFF,
        };
        let reply = self.conv.send(pam_style, text).map_err(ModuleError::conversation)?;

        // SecretBytes wipes the application's copy when dropped; only the UTF-8 text leaves.
        Ok(reply.map(|secret| String::from_utf8_lossy(secret.as_bytes()).into_owned()))
    }

    fn show(&mut self, style: MessageStyle, text: &str) {
        let pam_style = match style {
            MessageStyle::Info => PAM_TEXT_INFO,
            MessageStyle::Error => PAM_ERROR_MSG,
        };
        let _ = self.conv.send(pam_style, text);
    }
}

/// PAM_CONV from <security/_pam_types.h>.
const PAM_CONV_ITEM: c_int = 5;

/// The layout of `struct pam_conv` in <security/_pam_types.h>.
#[repr(C)]
struct RawPamConv {
    conv: Option<unsafe extern "C" fn(c_int, *mut *const c_void, *mut *mut c_void, *mut c_void) -> c_int>,
    appdata_ptr: *mut c_void,
}

unsafe extern "C" {
    fn pam_get_item(pamh: *const c_void, item_type: c_int, item: *mut *const c_void) -> c_int;
}

/// Returns whether the application registered a conversation function.
///
/// Linux-PAM 1.5 accepts a `struct pam_conv` whose function is NULL (cron-like callers
/// use one), and pam-bindings only notices when a message is sent. Checking first lets
/// the daemon answer such a login without starting a flow nobody can see.
pub fn has_conversation_function(pamh: &PamHandle) -> bool {
    let mut item: *const c_void = std::ptr::null();

    // SAFETY: `pamh` is the live handle libpam passed to this hook, and pam_get_item only
    // writes one pointer into `item`.
    let status = unsafe { pam_get_item(std::ptr::from_ref(pamh).cast(), PAM_CONV_ITEM, &mut item) };
    if status != 0 || item.is_null() {
        return false;
    }

    // SAFETY: for PAM_CONV libpam returns its `struct pam_conv`, which lives as long as the
    // handle; only the function pointer field is read.
    unsafe { (*item.cast::<RawPamConv>()).conv.is_some() }
}
