//! The module's side of one login: send the PAM items, relay prompts, return the verdict.

use std::time::Instant;

use ultraauth_proto::{DaemonReply, LoginRequest, MessageStyle, ModuleRequest, Outcome, PromptStyle};
use zeroize::{Zeroize, Zeroizing};

use crate::conversation::Conversation;
use crate::error::ModuleError;
use crate::link::DaemonLink;

/// Maximum prompts and messages one login may show, so a faulty daemon cannot loop.
pub const MAX_EXCHANGES: usize = 16;

/// Runs one login against the daemon until it sends a verdict or `deadline` passes.
///
/// `conversation` is `None` when the PAM application registered none; the request
/// then says `interactive: false` and a prompt from the daemon is a protocol error.
/// With `silent` (PAM_SILENT) messages are not shown, but prompts still are.
/// `first_pass` (PAM_AUTHTOK with `use_first_pass`) answers the first hidden prompt.
pub fn run_login(
    link: &mut dyn DaemonLink,
    mut conversation: Option<&mut dyn Conversation>,
    request: LoginRequest,
    deadline: Instant,
    silent: bool,
    mut first_pass: Option<Zeroizing<String>>,
) -> Result<Outcome, ModuleError> {
    link.send(&ModuleRequest::BeginLogin(request))?;

    for _ in 0..MAX_EXCHANGES {
        match link.receive(deadline)? {
            DaemonReply::ShowPrompt { style: PromptStyle::EchoOff, .. } if first_pass.is_some() => {
                let reply = first_pass.take().map(|secret| secret.as_str().to_owned());
                send_answer(link, reply)?;
            }

            DaemonReply::ShowPrompt { style, text } => {
                let Some(conv) = conversation.as_deref_mut() else {
                    return Err(ModuleError::Protocol(
                        "daemon sent a prompt to a login without a conversation".into(),
                    ));
                };
                let reply = conv.prompt(style, &text)?;
                send_answer(link, reply)?;
            }

            DaemonReply::ShowMessage { style, text } => {
                if let (Some(conv), false) = (conversation.as_deref_mut(), silent) {
                    conv.show(style, &text);
                }
            }

            DaemonReply::Finish { outcome, message } => {
                if let (Some(conv), Some(text), false) = (conversation.as_deref_mut(), message, silent) {
                    conv.show(MessageStyle::Error, &text);
                }
                return Ok(outcome);
            }
        }
    }

    Err(ModuleError::Protocol(format!("daemon sent more than {MAX_EXCHANGES} prompts and messages")))
}

/// Sends the user's reply and wipes the module's copy, which may be a one-time code.
fn send_answer(link: &mut dyn DaemonLink, reply: Option<String>) -> Result<(), ModuleError> {
    let request = ModuleRequest::AnswerPrompt { text: reply };
    let result = link.send(&request);
    if let ModuleRequest::AnswerPrompt { text: Some(mut text) } = request {
        text.zeroize();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::time::Duration;
    use ultraauth_proto::Flow;

    /// One step the test expects, in order.
    #[derive(Debug)]
    enum Event {
        ModuleSends(ModuleRequest),
        DaemonReplies(Result<DaemonReply, &'static str>),
        UserIsPrompted(&'static str, Option<&'static str>),
        UserIsShown(MessageStyle, &'static str),
        ConversationFails,
    }

    /// A daemon and a user that follow one script and fail the test on any step out of
    /// order, and on drop when steps are left over.
    struct Script {
        events: VecDeque<Event>,
    }

    impl Script {
        fn new(events: Vec<Event>) -> Self {
            Script { events: events.into() }
        }

        fn next(&mut self, what: &str) -> Event {
            self.events.pop_front().unwrap_or_else(|| panic!("unexpected {what}: script is finished"))
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                assert!(self.events.is_empty(), "script steps left over: {:?}", self.events);
            }
        }
    }

    struct ScriptedLink<'a>(&'a std::cell::RefCell<Script>);
    struct ScriptedUser<'a>(&'a std::cell::RefCell<Script>);

    impl DaemonLink for ScriptedLink<'_> {
        fn send(&mut self, request: &ModuleRequest) -> Result<(), ModuleError> {
            match self.0.borrow_mut().next("send") {
                Event::ModuleSends(expected) => assert_eq!(request, &expected),
                other => panic!("module sent {request:?}, script expected {other:?}"),
            }
            Ok(())
        }

        fn receive(&mut self, _deadline: Instant) -> Result<DaemonReply, ModuleError> {
            match self.0.borrow_mut().next("receive") {
                Event::DaemonReplies(Ok(reply)) => Ok(reply),
                Event::DaemonReplies(Err(_)) => Err(ModuleError::TimedOut),
                other => panic!("module received, script expected {other:?}"),
            }
        }
    }

    impl Conversation for ScriptedUser<'_> {
        fn prompt(&mut self, _style: PromptStyle, text: &str) -> Result<Option<String>, ModuleError> {
            match self.0.borrow_mut().next("prompt") {
                Event::UserIsPrompted(expected, reply) => {
                    assert_eq!(text, expected);
                    Ok(reply.map(String::from))
                }
                Event::ConversationFails => Err(ModuleError::conversation(pam::constants::PamResultCode::PAM_CONV_ERR)),
                other => panic!("user prompted with {text:?}, script expected {other:?}"),
            }
        }

        fn show(&mut self, style: MessageStyle, text: &str) {
            match self.0.borrow_mut().next("show") {
                Event::UserIsShown(expected_style, expected) => {
                    assert_eq!(style, expected_style);
                    assert_eq!(text, expected);
                }
                other => panic!("user shown {text:?}, script expected {other:?}"),
            }
        }
    }

    fn request() -> LoginRequest {
        LoginRequest {
            user: "alice".into(),
            service: "sshd".into(),
            rhost: Some("192.0.2.1".into()),
            tty: Some("ssh".into()),
            flow: Some(Flow::Device),
            wait_limit_secs: 30,
            interactive: true,
        }
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(30)
    }

    fn run(events: Vec<Event>, with_conversation: bool, silent: bool) -> Result<Outcome, ModuleError> {
        let script = std::cell::RefCell::new(Script::new(events));
        let mut link = ScriptedLink(&script);
        let mut user = ScriptedUser(&script);
        let conversation: Option<&mut dyn Conversation> = if with_conversation { Some(&mut user) } else { None };
        let mut req = request();
        req.interactive = with_conversation;
        run_login(&mut link, conversation, req, deadline(), silent, None)
    }

    fn begin(interactive: bool) -> Event {
        let mut req = request();
        req.interactive = interactive;
        Event::ModuleSends(ModuleRequest::BeginLogin(req))
    }

    fn prompt(text: &str) -> Event {
        Event::DaemonReplies(Ok(DaemonReply::ShowPrompt { style: PromptStyle::EchoOn, text: text.into() }))
    }

    fn finish(outcome: Outcome, message: Option<&str>) -> Event {
        Event::DaemonReplies(Ok(DaemonReply::Finish { outcome, message: message.map(String::from) }))
    }

    #[test]
    fn login_prompt_then_approved() {
        let result = run(
            vec![
                begin(true),
                prompt("Open URL, then press Enter"),
                Event::UserIsPrompted("Open URL, then press Enter", Some("")),
                Event::ModuleSends(ModuleRequest::AnswerPrompt { text: Some(String::new()) }),
                finish(Outcome::Approved, None),
            ],
            true,
            false,
        );
        assert!(matches!(result, Ok(Outcome::Approved)));
    }

    #[test]
    fn login_null_reply_is_forwarded() {
        let result = run(
            vec![
                begin(true),
                prompt("p"),
                Event::UserIsPrompted("p", None),
                Event::ModuleSends(ModuleRequest::AnswerPrompt { text: None }),
                finish(Outcome::Denied, Some("denied")),
                Event::UserIsShown(MessageStyle::Error, "denied"),
            ],
            true,
            false,
        );
        assert!(matches!(result, Ok(Outcome::Denied)));
    }

    #[test]
    fn login_silent_hides_messages() {
        let result = run(
            vec![
                begin(true),
                Event::DaemonReplies(Ok(DaemonReply::ShowMessage { style: MessageStyle::Info, text: "hi".into() })),
                finish(Outcome::TimedOut, Some("Approval timed out")),
            ],
            true,
            true,
        );
        assert!(matches!(result, Ok(Outcome::TimedOut)));
    }

    #[test]
    fn login_without_conversation_gets_cached_verdict() {
        let result = run(vec![begin(false), finish(Outcome::Approved, Some("shown to nobody"))], false, false);
        assert!(matches!(result, Ok(Outcome::Approved)));
    }

    #[test]
    fn login_prompt_without_conversation_is_error() {
        let result = run(vec![begin(false), prompt("p")], false, false);
        assert!(matches!(result, Err(ModuleError::Protocol(_))));
    }

    #[test]
    fn login_conversation_failure_stops() {
        let result = run(vec![begin(true), prompt("p"), Event::ConversationFails], true, false);
        assert!(matches!(result, Err(ModuleError::Conversation(_))));
    }

    #[test]
    fn login_daemon_timeout_is_error() {
        let result = run(vec![begin(true), Event::DaemonReplies(Err("timeout"))], true, false);
        assert!(matches!(result, Err(ModuleError::TimedOut)));
    }

    #[test]
    fn login_first_pass_answers_hidden_prompt() {
        let script = std::cell::RefCell::new(Script::new(vec![
            begin(true),
            Event::DaemonReplies(Ok(DaemonReply::ShowPrompt { style: PromptStyle::EchoOff, text: "code: ".into() })),
            Event::ModuleSends(ModuleRequest::AnswerPrompt { text: Some("ABCD-EFGH".into()) }),
            finish(Outcome::Approved, None),
        ]));
        let mut link = ScriptedLink(&script);
        let mut user = ScriptedUser(&script);
        let first_pass = Some(Zeroizing::new("ABCD-EFGH".to_owned()));
        let result = run_login(&mut link, Some(&mut user), request(), deadline(), false, first_pass);
        assert!(matches!(result, Ok(Outcome::Approved)));
    }

    #[test]
    fn login_endless_messages_are_cut_off() {
        let mut events = vec![begin(true)];
        for _ in 0..MAX_EXCHANGES {
            events.push(Event::DaemonReplies(Ok(DaemonReply::ShowMessage { style: MessageStyle::Info, text: "x".into() })));
            events.push(Event::UserIsShown(MessageStyle::Info, "x"));
        }
        let result = run(events, true, false);
        assert!(matches!(result, Err(ModuleError::Protocol(_))));
    }
}
