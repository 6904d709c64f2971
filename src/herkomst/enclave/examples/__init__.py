"""Example research scripts for the enclave (run with ``herkomst enclave run``)."""
