"""The CloudEvents envelope and the payload catalogue of CONTRACT §2, in code."""
