"""Tests in a real browser: Debian's chromium, driven by Playwright, against the platform on loopback."""
