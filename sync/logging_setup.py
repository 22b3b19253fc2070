"""Log levels of the third-party SDKs the app uses: quiet by default.

The Azure SDK's ``HttpLoggingPolicy`` logs every request and response (URL, headers) at INFO; with the
Functions host capturing INFO, one busy worker wrote 106 MB in 17 minutes, and headers are no place for
a log anyway. The SDKs log at WARNING unless ``SYNC_SDK_LOG_LEVEL`` asks for more (to debug a storage
or token problem).
"""

from __future__ import annotations

import logging

NOISY_SDK_LOGGERS = (
    "azure",  # azure.core.pipeline.policies.http_logging_policy, azure.identity, azure.storage, ...
    "msal",  # every token request and cache lookup at INFO/DEBUG
    "urllib3",  # a line per connection at DEBUG
)


def quiet_sdk_loggers(level: str = "WARNING") -> None:
    """Set the SDK loggers to ``level`` (a logging level name); the app's own loggers keep theirs."""
    for name in NOISY_SDK_LOGGERS:
        logging.getLogger(name).setLevel(level)
