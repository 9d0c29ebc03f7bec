/* The portal's small progressive script (served as /assets/app.js, compiled
 * into qloop). Every page works without it: it only prevents a form from
 * being sent twice, asks before an approval or rejection, and makes the
 * urgent hand-over's deadline required when the box is ticked. */
(function () {
  'use strict';
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var action = form.getAttribute('action') || '';
    if (/\/(approve|reject)$/.test(action) &&
        !window.confirm(/approve$/.test(action) ? '确认批准该延期申请？' : '确认驳回该延期申请？')) {
      ev.preventDefault();
      return;
    }
    if (form.getAttribute('method') === 'post') {
      var buttons = form.querySelectorAll('button');
      window.setTimeout(function () {
        for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
      }, 0);
    }
  });
  var urgent = document.querySelector('input[name="urgent"]');
  var deadline = document.querySelector('input[name="deadline"]');
  if (urgent && deadline) {
    var sync = function () { deadline.required = urgent.checked; };
    urgent.addEventListener('change', sync);
    sync();
  }
})();
