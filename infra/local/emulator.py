"""The local AWS endpoint: moto's server, with requests applied one at a time.

moto's own server handles requests on many threads with no lock around a DynamoDB
transaction, so two concurrent conditional transactions could both pass their checks. Real
DynamoDB serialises them. This launcher keeps moto's HTTP front end but applies one request at
a time, so tests of races see DynamoDB's semantics, not the emulator's.

It prints "ready <port>" once listening, and exits when its standard input closes, so it never
outlives the process that started it.
"""

import os
import sys
import threading


def main() -> None:
    host = "127.0.0.1"
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    # An empty profile or session token makes moto's own boto3 calls fail with a 500.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        if not os.environ.get(name):
            os.environ.pop(name, None)

    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    server = make_server(host, port, serialised, threaded=True)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)

    def watch_parent() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    if "--detached" not in sys.argv:
        threading.Thread(target=watch_parent, daemon=True).start()
    print(f"ready {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
