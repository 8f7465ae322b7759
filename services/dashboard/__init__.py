"""The ops dashboard: static HTML, JavaScript and CSS served by the API at ``/dashboard/``."""
