"""`coldchain demo`: the whole pipeline running, live, on one machine.

Starts the local stack, every service (``coldchain run all``), a local SMTP server and SMS
gateway that keep what the alert service sends, then a simulated fleet registered against
the API and publishing as provisioned devices; it runs until Ctrl-C and then stops what it
started.
"""
