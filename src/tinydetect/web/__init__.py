"""The detector in a web page: the assets the page loads (`assets`), scored in Python as the page scores them."""
