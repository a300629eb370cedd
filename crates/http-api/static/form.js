// The declaration form (console/form.rs): after the as-you-type check has swapped each field's
// error slot in (htmx, out of band), marks the fields whose slot holds a message as a full page
// does (the red bar, aria-invalid) and unmarks the others. Without script the form still works.
document.addEventListener('htmx:afterSettle', () => {
  document.querySelectorAll('.declaration-form .error-message[id^="e-"]').forEach((slot) => {
    const wrong = slot.textContent.trim() !== '';
    const field = slot.closest('.field');
    if (field) field.classList.toggle('field-error', wrong);
    const input = document.getElementById(slot.id.slice(2));
    if (!input) return;
    if (wrong) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  });
});
