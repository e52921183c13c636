"""Self-contained HTML reports (one file, inline CSS and images, no scripts, nothing fetched):
the page writer and the shared figures. Imports neither ``model`` nor ``export``, so the
hardware side (sim.regress) may use it."""
