# Ed25519 section of actuators/_boot.pyx (filled in by the Ed25519 work).
