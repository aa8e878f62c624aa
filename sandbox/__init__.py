"""A local stand-in for Google (OAuth + Gmail API), Microsoft (identity platform + Graph) and an
SMTP provider, speaking the same HTTP and SMTP, so Mailroom runs and is tested without internet.

Start it with ``python -m sandbox`` or, in tests, ``sandbox.server.start_sandbox()``.
Drive it with ``sandbox.client.SandboxClient``. See sandbox/README.md.
"""

__all__ = ["__version__"]
__version__ = "1.0.0"
