/* The after-action report's one button: print (or save as PDF) from the browser. The report is
 * whole without it; the button is shown only where a script runs. */
const button = document.getElementById("print-report");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
