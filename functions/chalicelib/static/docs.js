// The kstock API documentation page: renders openapi.json (served next to this page) and lets
// you try each operation. Plain DOM code, no dependencies, nothing loaded from elsewhere.
"use strict";

(function () {
  const main = document.getElementById("operations");
  const tokenInput = document.getElementById("token");
  tokenInput.value = sessionStorage.getItem("kstock.token") || "";
  tokenInput.addEventListener("input", () => sessionStorage.setItem("kstock.token", tokenInput.value.trim()));

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  let spec = null;

  function resolve(schema, seen) {
    if (schema && schema.$ref) {
      const name = schema.$ref.split("/").pop();
      if (seen.has(name)) return { title: name + " (recursive)" };
      seen = new Set(seen).add(name);
      return resolve(spec.components.schemas[name], seen);
    }
    return schema || {};
  }

  // A readable example-like outline of a schema: {"field": "type (constraints)"}.
  function outline(schema, depth, seen) {
    seen = seen || new Set();
    schema = resolve(schema, seen);
    if (depth > 6) return "…";
    if (schema.allOf) return Object.assign({}, ...schema.allOf.map((s) => outline(s, depth + 1, seen)));
    if (schema.anyOf || schema.oneOf) {
      const options = (schema.anyOf || schema.oneOf).map((s) => outline(s, depth + 1, seen));
      const kept = options.filter((o) => o !== "null");
      return kept.length === 1 ? (typeof kept[0] === "string" && options.length > 1 ? kept[0] + " | null" : kept[0])
        : options.map((o) => (typeof o === "string" ? o : JSON.stringify(o))).join(" | ");
    }
    if (schema.type === "object" || schema.properties) {
      const out = {};
      const required = new Set(schema.required || []);
      for (const [name, prop] of Object.entries(schema.properties || {})) {
        out[name + (required.has(name) ? "" : "?")] = outline(prop, depth + 1, seen);
      }
      return out;
    }
    if (schema.type === "array") return [outline(schema.items, depth + 1, seen)];
    return describe(schema);
  }

  function describe(schema) {
    const parts = [];
    if (schema.enum) parts.push(schema.enum.map((v) => JSON.stringify(v)).join(" | "));
    else parts.push(schema.format ? `${schema.type || "any"} (${schema.format})` : schema.type || "any");
    for (const key of ["minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "default"]) {
      if (schema[key] !== undefined) parts.push(`${key} ${JSON.stringify(schema[key])}`);
    }
    return parts.join(", ");
  }

  function parametersTable(op) {
    const params = op.parameters || [];
    if (!params.length) return null;
    return el("table", {},
      el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "schema"), el("th", {}, "description")),
      params.map((p) => el("tr", {},
        el("td", {}, el("code", {}, p.name), p.required ? " *" : ""), el("td", {}, p.in),
        el("td", {}, describe(resolve(p.schema, new Set()))), el("td", {}, p.description || ""))));
  }

  function responsesBlock(op) {
    return Object.entries(op.responses || {}).map(([status, response]) => {
      const media = Object.values(response.content || {})[0];
      return el("div", {},
        el("p", {}, el("span", { class: "status" }, status), " ", response.description || ""),
        media && media.schema ? el("pre", {}, JSON.stringify(outline(media.schema, 0), null, 2)) : null);
    });
  }

  function tryForm(path, method, op) {
    const inputs = {};
    const form = el("div", { class: "try" }, el("h4", {}, "Try it"));
    for (const p of op.parameters || []) {
      inputs[p.name] = el("input", { placeholder: `${p.name} (${p.in})${p.required ? " *" : ""}` });
      form.append(inputs[p.name]);
    }
    let body = null;
    if (op.requestBody) {
      body = el("textarea", {}, JSON.stringify(outline(op.requestBody.content["application/json"].schema, 0), null, 2));
      form.append(body);
    }
    const output = el("pre", { class: "muted" }, "—");
    const button = el("button", { type: "button" }, "Send");
    button.addEventListener("click", async () => {
      let url = path;
      const query = new URLSearchParams();
      for (const p of op.parameters || []) {
        const value = inputs[p.name].value;
        if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(value));
        else if (value !== "") query.append(p.name, value);
      }
      const headers = {};
      if (tokenInput.value.trim()) headers.Authorization = "Bearer " + tokenInput.value.trim();
      if (body) headers["Content-Type"] = "application/json";
      const target = new URL("." + url + (query.toString() ? "?" + query : ""), new URL("./", location.href));
      output.textContent = "…";
      try {
        const response = await fetch(target, { method: method.toUpperCase(), headers, body: body ? body.value : undefined });
        const text = await response.text();
        let pretty = text;
        try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        output.textContent = `${response.status} ${response.statusText}\n\n${pretty}`;
      } catch (error) {
        output.textContent = String(error);
      }
    });
    form.append(button, output);
    return form;
  }

  function operationBlock(path, method, op) {
    return el("details", { class: "op" },
      el("summary", {}, el("span", { class: `method ${method}` }, method.toUpperCase()), el("span", { class: "path" }, path),
        el("span", {}, op.summary || ""), op.security ? el("span", { class: "lock" }, "🔒 Bearer") : null),
      el("div", { class: "body" },
        op.description ? el("p", {}, op.description) : null,
        parametersTable(op),
        op.requestBody ? [el("h4", {}, "Request body (JSON)"),
          el("pre", {}, JSON.stringify(outline(op.requestBody.content["application/json"].schema, 0), null, 2))] : null,
        el("h4", {}, "Responses"), responsesBlock(op),
        tryForm(path, method, op)));
  }

  function render() {
    document.getElementById("title").textContent = `${spec.info.title} ${spec.info.version}`;
    document.getElementById("description").textContent = spec.info.description || "";
    const groups = new Map();
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const tag = (op.tags && op.tags[0]) || "other";
        if (!groups.has(tag)) groups.set(tag, []);
        groups.get(tag).push(operationBlock(path, method, op));
      }
    }
    main.replaceChildren(...[...groups.entries()].flatMap(([tag, blocks]) => [el("h2", {}, tag), ...blocks]));
  }

  fetch(new URL("openapi.json", location.href))
    .then((response) => response.json())
    .then((document_) => { spec = document_; render(); })
    .catch((error) => { main.textContent = "Could not load openapi.json: " + error; });
})();
