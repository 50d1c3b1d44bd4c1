//! Property tests of the frame codec: any message survives a round trip, and no input,
//! however malformed, panics the reader or yields a message from a partial frame.
//!
//! `PROPTEST_CASES` sets the cases per property (proptest's default is 256); for a long
//! run: `PROPTEST_CASES=100000 cargo test -p ultraauth-proto --test frame_properties`.

use std::io::Cursor;

use proptest::prelude::*;
use ultraauth_proto::frame::{HEADER_LEN, MAX_FRAME_LEN};
use ultraauth_proto::{DaemonReply, Flow, FrameError, LoginRequest, MessageStyle, ModuleRequest, Outcome, PromptStyle, decode_frame_len, encode_frame, read_frame};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z0-9.@_-]{0,40}", Just(String::new())]
}

fn flow() -> impl Strategy<Value = Option<Flow>> {
    prop_oneof![Just(None), Just(Some(Flow::Device)), Just(Some(Flow::Code)), Just(Some(Flow::Push))]
}

fn module_request() -> impl Strategy<Value = ModuleRequest> {
    let begin = (text(), text(), proptest::option::of(text()), proptest::option::of(text()), flow(), any::<u32>(), any::<bool>()).prop_map(
        |(user, service, rhost, tty, flow, wait_limit_secs, interactive)| {
            ModuleRequest::BeginLogin(LoginRequest { user, service, rhost, tty, flow, wait_limit_secs, interactive })
        },
    );
    let answer = proptest::option::of(text()).prop_map(|text| ModuleRequest::AnswerPrompt { text });
    prop_oneof![begin, answer]
}

fn daemon_reply() -> impl Strategy<Value = DaemonReply> {
    let outcome = prop_oneof![Just(Outcome::Approved), Just(Outcome::Denied), Just(Outcome::TimedOut), Just(Outcome::Unavailable), Just(Outcome::Ignore)];
    prop_oneof![
        (any::<bool>(), text()).prop_map(|(echo, text)| DaemonReply::ShowPrompt { style: if echo { PromptStyle::EchoOn } else { PromptStyle::EchoOff }, text }),
        (any::<bool>(), text()).prop_map(|(info, text)| DaemonReply::ShowMessage { style: if info { MessageStyle::Info } else { MessageStyle::Error }, text }),
        (outcome, proptest::option::of(text())).prop_map(|(outcome, message)| DaemonReply::Finish { outcome, message }),
    ]
}

proptest! {
    #[test]
    fn module_request_round_trips(message in module_request()) {
        let frame = encode_frame(&message).unwrap();
        let decoded: ModuleRequest = read_frame(&mut Cursor::new(frame)).unwrap();
        prop_assert_eq!(decoded, message);
    }

    #[test]
    fn daemon_reply_round_trips(message in daemon_reply()) {
        let frame = encode_frame(&message).unwrap();
        let decoded: DaemonReply = read_frame(&mut Cursor::new(frame)).unwrap();
        prop_assert_eq!(decoded, message);
    }

    #[test]
    fn frame_length_accepts_only_valid_range(header in any::<[u8; HEADER_LEN]>()) {
        let announced = u32::from_be_bytes(header) as usize;
        let result = decode_frame_len(header);
        prop_assert_eq!(result.is_ok(), (1..=MAX_FRAME_LEN).contains(&announced));
    }

    /// Arbitrary bytes never panic the reader, and the reader never reads past the frame
    /// it announced.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut cursor = Cursor::new(bytes.clone());
        let result: Result<ModuleRequest, FrameError> = read_frame(&mut cursor);
        if result.is_ok() {
            let announced = u32::from_be_bytes(bytes[..HEADER_LEN].try_into().unwrap()) as usize;
            prop_assert_eq!(cursor.position() as usize, HEADER_LEN + announced);
        }
    }

    /// A frame cut short anywhere is an error, never a message.
    #[test]
    fn truncated_frame_is_an_error(message in module_request(), cut in any::<prop::sample::Index>()) {
        let frame = encode_frame(&message).unwrap();
        let keep = cut.index(frame.len());
        let result: Result<ModuleRequest, FrameError> = read_frame(&mut Cursor::new(&frame[..keep]));
        prop_assert!(result.is_err());
    }

    /// A valid header in front of arbitrary JSON-ish text yields a message or an error.
    #[test]
    fn arbitrary_body_never_panics(body in "\\PC{1,200}") {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        let _: Result<DaemonReply, FrameError> = read_frame(&mut Cursor::new(frame));
    }
}
