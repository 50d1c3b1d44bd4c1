#!/usr/bin/env python3
"""Run pam_authenticate through pam_wrapper with conversations that pamtester cannot make.

pamtester always registers libpam_misc's conversation. This client can instead pass no
pam_conv struct, one whose function is NULL, or a conversation that prints every message
with its style and may reply with NULL. It can also pass PAM_SILENT and set PAM_RHOST and
PAM_TTY.

Run it with pam_wrapper's variables set, for example:

    PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=DIR python3 tests/pam_client.py SERVICE USER

It loads libpam_wrapper.so with ctypes and calls pam_start, pam_authenticate and pam_end
from it, so LD_PRELOAD is not needed. Loading libpam.so itself would bypass the wrapper,
which only takes effect through the symbols it exports.

Output: one line per PAM message, "ECHO_ON: ", "ECHO_OFF: ", "INFO: " or "ERROR: "
followed by the text, then "RESULT <code> <pam_strerror text>". The exit status is the
PAM return code, or 2 for a usage error (PAM_SYMBOL_ERR is also 2, but then a RESULT line
is printed).
"""

import argparse
import ctypes
import os
import sys

# Values from Linux-PAM's <security/_pam_types.h>.
PAM_SUCCESS = 0
PAM_BUF_ERR = 5
PAM_CONV_ERR = 19
PAM_SILENT = 0x8000
PAM_TTY = 3
PAM_RHOST = 4
PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2
PAM_ERROR_MSG = 3
PAM_TEXT_INFO = 4
PAM_MAX_NUM_MSG = 32

STYLE_LABELS = {
    PAM_PROMPT_ECHO_OFF: "ECHO_OFF",
    PAM_PROMPT_ECHO_ON: "ECHO_ON",
    PAM_ERROR_MSG: "ERROR",
    PAM_TEXT_INFO: "INFO",
}
PROMPT_STYLES = (PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON)

USAGE_ERROR = 2


class PamMessage(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class PamResponse(ctypes.Structure):
    # resp is a plain pointer, not c_char_p, so ctypes keeps the malloc'ed address.
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


# Linux-PAM passes msg as an array of pointers to messages (struct pam_message **msg).
ConvFunction = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(ctypes.POINTER(PamMessage)),
    ctypes.POINTER(ctypes.POINTER(PamResponse)),
    ctypes.c_void_p,
)


class PamConv(ctypes.Structure):
    _fields_ = [("conv", ConvFunction), ("appdata_ptr", ctypes.c_void_p)]


def fail_usage(message):
    print(f"pam_client: {message}", file=sys.stderr, flush=True)
    sys.exit(USAGE_ERROR)


def load_libraries():
    """Load libpam_wrapper.so, which must see PAM_WRAPPER=1 when it is loaded, and libc."""
    for name in ("PAM_WRAPPER", "PAM_WRAPPER_SERVICE_DIR"):
        if not os.environ.get(name):
            fail_usage(f"{name} is not set; run with PAM_WRAPPER=1 and "
                       "PAM_WRAPPER_SERVICE_DIR=DIR (a directory of PAM service files)")

    # RTLD_GLOBAL lets the PAM modules that libpam loads resolve pam_get_item and the
    # other libpam calls to the wrapper too, as they do under LD_PRELOAD.
    try:
        pam = ctypes.CDLL("libpam_wrapper.so", mode=ctypes.RTLD_GLOBAL)
    except OSError as err:
        fail_usage(f"loading libpam_wrapper.so failed: {err}; "
                   "install it with: apt-get install libpam-wrapper")
    if pam.pam_wrapper_enabled() != 1:
        fail_usage("pam_wrapper is not enabled; check that PAM_WRAPPER=1 and that "
                   "PAM_WRAPPER_SERVICE_DIR is a directory")

    pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(PamConv),
                              ctypes.POINTER(ctypes.c_void_p)]
    pam.pam_start.restype = ctypes.c_int
    pam.pam_set_item.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    pam.pam_set_item.restype = ctypes.c_int
    pam.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
    pam.pam_authenticate.restype = ctypes.c_int
    pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
    pam.pam_end.restype = ctypes.c_int
    pam.pam_strerror.argtypes = [ctypes.c_void_p, ctypes.c_int]
    pam.pam_strerror.restype = ctypes.c_char_p

    libc = ctypes.CDLL("libc.so.6")
    libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
    libc.calloc.restype = ctypes.c_void_p
    libc.strdup.argtypes = [ctypes.c_char_p]
    libc.strdup.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free.restype = None
    return pam, libc


class Conversation:
    """A PAM conversation function that prints each message and replies to prompts.

    Replies are allocated with libc calloc and strdup, because libpam or the module frees
    them with free().
    """

    def __init__(self, libc, reply, null_replies, null_reply_text):
        self.libc = libc
        self.reply = reply
        self.null_replies = null_replies
        self.null_reply_text = null_reply_text
        # ctypes frees the C callback with this object, so keep a reference for the run.
        self.function = ConvFunction(self.converse)

    def converse(self, num_msg, messages, responses, _appdata):
        # An exception must not reach ctypes, which prints it and returns an undefined int.
        try:
            return self.handle_messages(num_msg, messages, responses)
        except Exception as err:  # noqa: BLE001 - every failure becomes PAM_CONV_ERR
            print(f"pam_client: conversation failed: {err!r}", file=sys.stderr, flush=True)
            responses[0] = None
            return PAM_CONV_ERR

    def handle_messages(self, num_msg, messages, responses):
        responses[0] = None
        if num_msg <= 0 or num_msg > PAM_MAX_NUM_MSG:
            print(f"pam_client: conversation called with {num_msg} messages", file=sys.stderr, flush=True)
            return PAM_CONV_ERR

        replies = []
        for index in range(num_msg):
            message = messages[index].contents
            text = (message.msg or b"").decode("utf-8", errors="replace")
            label = STYLE_LABELS.get(message.msg_style, f"STYLE_{message.msg_style}")
            print(f"{label}: {text}", flush=True)

            if message.msg_style not in STYLE_LABELS:
                print(f"pam_client: unsupported message style {message.msg_style}", file=sys.stderr, flush=True)
                return PAM_CONV_ERR
            if message.msg_style not in PROMPT_STYLES or self.null_replies or self.null_reply_text:
                replies.append(None)
                continue

            reply = self.read_reply()
            if reply is None:
                return PAM_CONV_ERR
            replies.append(reply)

        if self.null_replies:
            return PAM_SUCCESS
        return self.fill_responses(replies, responses)

    def read_reply(self):
        """Return the reply to one prompt, or None at the end of standard input."""
        if self.reply is not None:
            return self.reply
        line = sys.stdin.readline()
        if not line:
            print("pam_client: standard input ended before a reply", file=sys.stderr, flush=True)
            return None
        return line.rstrip("\n")

    def fill_responses(self, replies, responses):
        array = self.libc.calloc(len(replies), ctypes.sizeof(PamResponse))
        if not array:
            return PAM_BUF_ERR
        entries = ctypes.cast(array, ctypes.POINTER(PamResponse))

        for index, reply in enumerate(replies):
            if reply is None:
                continue
            copy = self.libc.strdup(reply.encode("utf-8"))
            if not copy:
                self.free_responses(entries, index)
                return PAM_BUF_ERR
            entries[index].resp = copy

        responses[0] = entries
        return PAM_SUCCESS

    def free_responses(self, entries, count):
        for index in range(count):
            if entries[index].resp:
                self.libc.free(entries[index].resp)
        self.libc.free(ctypes.cast(entries, ctypes.c_void_p))


def parse_args():
    parser = argparse.ArgumentParser(
        description="Run pam_authenticate for SERVICE and USER through pam_wrapper.",
        epilog="Needs PAM_WRAPPER=1 and PAM_WRAPPER_SERVICE_DIR=DIR in the environment. "
               "Exits with the PAM return code (0 for success) or 2 for a usage error.")
    parser.add_argument("service", metavar="SERVICE", help="PAM service name, a file in PAM_WRAPPER_SERVICE_DIR")
    parser.add_argument("user", metavar="USER", help="user name passed to pam_start")

    conversation = parser.add_mutually_exclusive_group()
    conversation.add_argument("--null-conv", action="store_true",
                              help="pass a pam_conv struct whose conv function is NULL")
    conversation.add_argument("--no-conv-struct", action="store_true",
                              help="pass a NULL pam_conv pointer to pam_start")
    conversation.add_argument("--null-replies", action="store_true",
                              help="return PAM_SUCCESS with no response array (*resp = NULL)")
    conversation.add_argument("--null-reply-text", action="store_true",
                              help="return a response array whose resp strings are NULL, "
                                   "as pamela does for echo-on prompts")

    parser.add_argument("--reply", metavar="TEXT",
                        help="reply TEXT to every prompt instead of reading a line from standard input")
    parser.add_argument("--silent", action="store_true", help="pass PAM_SILENT to pam_authenticate")

    rhost = parser.add_mutually_exclusive_group()
    rhost.add_argument("--rhost", metavar="HOST", help="set PAM_RHOST to HOST (may be empty)")
    rhost.add_argument("--no-rhost", action="store_true",
                       help="set PAM_RHOST to NULL explicitly, as some local callers do")
    parser.add_argument("--tty", metavar="TTY", help="set PAM_TTY to TTY (may be empty)")

    args = parser.parse_args()
    if args.reply is not None and (args.null_replies or args.null_reply_text):
        parser.error("--reply cannot be combined with --null-replies or --null-reply-text")
    return args


def print_result(pam, pamh, code):
    text = pam.pam_strerror(pamh, code)
    print(f"RESULT {code} {(text or b'').decode('utf-8', errors='replace')}", flush=True)


def set_items(pam, pamh, args):
    """Set PAM_RHOST and PAM_TTY as requested; return the first failing code or PAM_SUCCESS."""
    items = []
    if args.rhost is not None:
        items.append((PAM_RHOST, "PAM_RHOST", args.rhost.encode("utf-8")))
    elif args.no_rhost:
        items.append((PAM_RHOST, "PAM_RHOST", None))
    if args.tty is not None:
        items.append((PAM_TTY, "PAM_TTY", args.tty.encode("utf-8")))

    for item_type, name, value in items:
        pointer = ctypes.cast(ctypes.c_char_p(value), ctypes.c_void_p) if value is not None else None
        code = pam.pam_set_item(pamh, item_type, pointer)
        if code != PAM_SUCCESS:
            print(f"pam_client: pam_set_item({name}) failed with code {code}", file=sys.stderr, flush=True)
            return code
    return PAM_SUCCESS


def main():
    args = parse_args()
    pam, libc = load_libraries()
    conversation = Conversation(libc, args.reply, args.null_replies, args.null_reply_text)

    if args.no_conv_struct:
        conv_pointer = None
    elif args.null_conv:
        conv_pointer = ctypes.pointer(PamConv(ConvFunction(), None))
    else:
        conv_pointer = ctypes.pointer(PamConv(conversation.function, None))

    pamh = ctypes.c_void_p()
    code = pam.pam_start(args.service.encode("utf-8"), args.user.encode("utf-8"), conv_pointer,
                         ctypes.byref(pamh))
    if code != PAM_SUCCESS:
        print(f"pam_client: pam_start failed with code {code}", file=sys.stderr, flush=True)
        print_result(pam, pamh, code)
        return code

    code = set_items(pam, pamh, args)
    if code == PAM_SUCCESS:
        flags = PAM_SILENT if args.silent else 0
        code = pam.pam_authenticate(pamh, flags)

    print_result(pam, pamh, code)
    pam.pam_end(pamh, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
