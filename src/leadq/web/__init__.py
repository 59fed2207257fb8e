"""The web UI's static files (HTML, CSS, plain JavaScript modules), served by
`api/routes/web.py`."""
