// Small progressive touches; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // ask before a rejection: nothing runs afterwards and the reason is permanent in the trace
  for (const form of document.querySelectorAll("form.reject")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm("Reject this approval? Nothing will be executed.")) event.preventDefault();
    });
  }
});
