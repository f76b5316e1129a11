"""Serial recovery: flashing through the STM32 system-memory (ROM) bootloader
over a UART (ST AN3155), for a board whose own bootloader cannot run.
``an3155`` is the protocol client, ``cli`` the ``myofoc flash --serial`` job."""
