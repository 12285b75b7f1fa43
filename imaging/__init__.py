"""Image handling shared by pages, storage and the runner: the one door every image enters Chatdeck through."""
