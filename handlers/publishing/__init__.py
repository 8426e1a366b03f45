"""Publishing outcomes: recording what a delivery did, telling the chat, and putting a failed or
unknown outcome right."""
