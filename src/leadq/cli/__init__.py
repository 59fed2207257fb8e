from leadq.cli.app import app

__all__ = ["app"]
