"""The send pipeline: channel resolution at send time, per-mailbox throttling, exactly-once
claims with leases, provider calls and error handling. A Django app of its own (label
"sending") so its limiter tables live beside the code that uses them."""
