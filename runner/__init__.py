"""Generation runner: runs replies in the background, saves them, lets pages tail them."""
