/* Starts Swagger UI on /api/docs from this site's files: no CDN, no inline script. */
(function () {
  "use strict";
  var page = document.body.dataset;
  // django-ninja hands the template its settings as JSON text; json_script wraps that text once more.
  var config = JSON.parse(JSON.parse(document.getElementById("swagger-config").textContent));
  config.dom_id = "#swagger-ui";
  // Deep links put a link inside each operation's button: a control nested in a control.
  config.deepLinking = false;
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  if (page.apiCsrf && page.csrfToken) {
    config.requestInterceptor = function (request) {
      request.headers["X-CSRFToken"] = page.csrfToken;
      return request;
    };
  }
  SwaggerUIBundle(config);
})();
