"""The hardware shell: the only package that imports gpiozero, mfrc522, spidev or RPi.GPIO."""
