# UDS/ISO-TP/slots section of actuators/_boot.pyx (filled in by the bootloader work).
