"""Shared test setup. Qt must run headless here (CI has no display), so the platform is chosen
before anything imports Qt."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
