"""The FDSN event web service (fdsnws-event 1.2) blueprint."""
