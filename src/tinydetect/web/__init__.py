"""The detector in a web page: the assets the page loads (`assets`), their Python twins (`scorer`: scoring as the page
does; `head`: training the head on feedback as the page does), serving the page (`http`) and driving it in headless
Chromium (`browser`). The page itself is in web/ at the repository's root."""
