"""`ecr-drift sandbox`: a local ECR endpoint to try every command on, no account needed."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated

import typer
from rich.markup import escape

from ecr_drift.cli.demo_command import demo_extra_missing
from ecr_drift.cli.output import Output

# Any region and any credentials work against the sandbox; the SDKs and the CLI insist on having some.
SANDBOX_REGION = "eu-west-1"
SANDBOX_CREDENTIAL = "sandbox"


def sandbox(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port on 127.0.0.1; 0 picks a free one.")
    ] = 5000,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Serve a local ECR on 127.0.0.1 until Ctrl-C: moto_server plus the ECR APIs moto lacks.

    Plain moto_server has no pull-through cache rules or repository creation templates (it answers them
    with an HTML error page); the sandbox serves them as ECR does. It starts empty, keeps everything in
    memory, and prints the environment that points the AWS CLI, boto3 and every `ecr-drift` command at
    it (or pass `--endpoint-url`). SIGINT or SIGTERM stops it, exit 0.
    Needs the `demo` extra: `pip install 'ecr-drift-enforcer[demo]'`.

    **Examples**

        ecr-drift sandbox

        ecr-drift sandbox --port 0   # any free port

    and in another shell, with the environment it printed:

        aws ecr create-repository --repository-name temporal-worker   # not as declared

        ecr-drift plan

        ecr-drift enforce --yes && ecr-drift audit
    """
    output = Output(no_color=no_color)
    try:
        from ecr_drift.cli.ecr_double import serve
    except ModuleNotFoundError as error:
        demo_extra_missing("sandbox", error, output)
    # werkzeug logs a coloured "POST / HTTP/1.1" per call, which names no API; its errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        server, endpoint = serve("127.0.0.1", port)
    except OSError as error:
        output.err.print(
            f"[bold red]error:[/] cannot listen on 127.0.0.1:{port}: {escape(error.strerror or str(error))}: "
            "choose another --port (0 picks a free one)"
        )
        raise typer.Exit(1) from None
    # Before the URL is out: whoever reads it may stop the sandbox at once, and that must be clean too.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        output.out.print(
            f"ECR sandbox on [bold]{endpoint}[/] (moto_server and the ECR APIs moto lacks); "
            "Ctrl-C stops it.\n"
            "Point the AWS CLI, boto3 and ecr-drift at it, in another shell:\n\n"
            f"  export AWS_ENDPOINT_URL={endpoint}\n"
            f"  export AWS_ACCESS_KEY_ID={SANDBOX_CREDENTIAL} AWS_SECRET_ACCESS_KEY={SANDBOX_CREDENTIAL}\n"
            f"  export AWS_DEFAULT_REGION={SANDBOX_REGION}\n\n"
            f"or pass --endpoint-url {endpoint} (with some credentials and region) to a command.\n"
            "The sandbox starts empty; what it holds is gone when it stops."
        )
        stop.wait()
    finally:
        server.stop()
    output.err.print("sandbox stopped")
