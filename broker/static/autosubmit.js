// Sends the hand-off form on at once; without JavaScript the visible button does the same.
document.getElementById("autosubmit").submit();
