#!/usr/bin/env python3
"""Log in to an sshd with keyboard-interactive authentication, as a user at a terminal.

Usage: ssh_client.py HOST PORT USER [COMMAND]

Every keyboard-interactive request is printed to stdout: its instruction text as
"INFO: ..." and each prompt as "PROMPT: ..." (multi-line text keeps its line breaks).
For each prompt the client reads one line from stdin, as a user pressing Enter, and
sends it. After a successful login it runs COMMAND (default "id -un") and prints
"OUTPUT: <first line>". It prints "RESULT: success" or "RESULT: failed <reason>"
last and exits 0 or 1.
"""

import socket
import sys

import paramiko


def print_flush(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def answer(title, instructions, prompts):
    """Show one keyboard-interactive request and return the user's replies."""
    if instructions:
        print_flush("INFO: " + instructions)
    replies = []
    for text, _echo in prompts:
        print_flush("PROMPT: " + text)
        line = sys.stdin.readline()
        if not line:
            raise EOFError("stdin closed before the prompt was answered")
        replies.append(line.rstrip("\n"))
    return replies


def main():
    if len(sys.argv) < 4:
        print_flush(__doc__)
        return 2
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    command = sys.argv[4] if len(sys.argv) > 4 else "id -un"

    sock = socket.create_connection((host, port), timeout=30)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=30)
        # Host keys are generated per test run, so there is nothing to pin them to.
        try:
            transport.auth_interactive(user, answer)
        except paramiko.AuthenticationException as err:
            print_flush(f"RESULT: failed authentication: {err}")
            return 1
        except (EOFError, paramiko.SSHException) as err:
            print_flush(f"RESULT: failed connection: {err}")
            return 1

        channel = transport.open_session(timeout=30)
        channel.exec_command(command)
        output = channel.makefile("r").read().decode(errors="replace")
        print_flush("OUTPUT: " + (output.splitlines() or [""])[0])
        print_flush("RESULT: success")
        return 0
    finally:
        transport.close()


if __name__ == "__main__":
    sys.exit(main())
