// The lodging upload's progress bar (the console's own script; no inline script anywhere).
// Without script the form posts as usual and the answer is the results page; with it, the file
// goes by XMLHttpRequest so that <progress> follows the upload, and the answer's <main> replaces
// this page's. Messages come from the form's data-* attributes (in the page's language).
(function () {
  'use strict';

  function wire() {
    var form = document.getElementById('lodge-form');
    if (!form || form.dataset.wired === 'yes') {
      return;
    }
    form.dataset.wired = 'yes';
    form.addEventListener('submit', function (event) {
      var box = document.getElementById('upload-progress-box');
      var progress = document.getElementById('upload-progress');
      var status = document.getElementById('upload-status');
      if (!box || !progress || !window.FormData || !window.DOMParser) {
        return; // the plain form post
      }
      event.preventDefault();
      var button = form.querySelector('button[type=submit]');
      if (button) {
        button.disabled = true;
      }
      box.hidden = false;
      progress.value = 0;
      progress.max = 100;
      status.textContent = '';
      var xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.upload.addEventListener('progress', function (e) {
        if (e.lengthComputable && e.total > 0) {
          progress.max = e.total;
          progress.value = e.loaded;
        }
      });
      xhr.upload.addEventListener('load', function () {
        progress.value = progress.max;
        status.textContent = form.dataset.sent || '';
      });
      xhr.addEventListener('load', function () {
        var answer = new DOMParser().parseFromString(xhr.responseText, 'text/html');
        var main = answer.getElementById('main');
        var here = document.getElementById('main');
        if (main && here) {
          here.replaceWith(document.adoptNode(main));
          if (answer.title) {
            document.title = answer.title;
          }
          wire();
          // The new page's bar shows the finished upload too.
          var doneBox = document.getElementById('upload-progress-box');
          var doneBar = document.getElementById('upload-progress');
          var doneStatus = document.getElementById('upload-status');
          var doneForm = document.getElementById('lodge-form');
          if (doneBox && doneBar && doneStatus && doneForm) {
            doneBox.hidden = false;
            doneBar.max = 1;
            doneBar.value = 1;
            doneStatus.textContent = doneForm.dataset.done || '';
          }
          var focus = document.querySelector('.error-summary') || document.getElementById('lodge-results');
          if (focus) {
            focus.focus();
          }
        } else {
          if (button) {
            button.disabled = false;
          }
          status.textContent = (form.dataset.failed || '') + ' (' + xhr.status + ')';
        }
      });
      xhr.addEventListener('error', function () {
        if (button) {
          button.disabled = false;
        }
        status.textContent = form.dataset.failed || '';
      });
      xhr.send(new FormData(form));
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', wire);
  } else {
    wire();
  }
})();
