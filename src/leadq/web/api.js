// Talking to the leadq API: JSON requests, Server-Sent Events read over fetch, and the API
// key (asked for once on a 401, kept in sessionStorage, sent as X-API-Key; see api/deps.py).

const KEY_STORE = "leadq.apiKey";

// A failed request, with the API's error body (api/models.py ErrorResponse) unpacked.
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `the server answered HTTP ${status}`);
    this.status = status;
    this.code = err.code || `http_${status}`;
    this.retryable = Boolean(err.retryable) || status === 0;
    this.fields = err.fields || [];
  }

  // The shape of a per-lead error (schemas/result.py LeadError), for tables and cards.
  asLeadError() {
    return { error: this.code, message: this.message, retryable: this.retryable };
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORE);
}

let pendingAsk = null;

// Show the key dialog; resolves to the key, or null when the person cancels. Concurrent 401s
// share one dialog.
function askKey(rejected) {
  if (pendingAsk) return pendingAsk;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  document.getElementById("key-message").textContent = rejected
    ? "The server did not accept that key. Enter another."
    : "This server asks for an API key.";
  input.value = "";
  pendingAsk = new Promise((resolve) => {
    const cancel = document.getElementById("key-cancel");
    const onCancel = () => dialog.close("cancel");
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("close", () => {
      cancel.removeEventListener("click", onCancel);
      pendingAsk = null;
      const key = input.value.trim();
      input.value = "";
      resolve(dialog.returnValue === "ok" && key ? key : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
  return pendingAsk;
}

// fetch() with the API key; on a 401 asks for a key and tries again. `body` is sent as
// JSON, or as it is (a File) when `type` gives its Content-Type.
export async function request(path, { method = "GET", body, signal, type } = {}) {
  for (;;) {
    const sent = apiKey();
    const headers = { Accept: "application/json, text/event-stream" };
    if (sent) headers["X-API-Key"] = sent;
    if (body !== undefined) headers["Content-Type"] = type || "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, signal, body: body === undefined || type ? body : JSON.stringify(body),
      });
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError(0, { error: { code: "network_error", message: "cannot reach the leadq server", retryable: true } });
    }
    if (response.status !== 401) return response;
    await response.body?.cancel();
    if (apiKey() !== sent) continue; // another request already got a new key
    const key = await askKey(Boolean(sent));
    if (key === null) {
      throw new ApiError(401, { error: { code: "unauthorized", message: "this server needs an API key" } });
    }
    sessionStorage.setItem(KEY_STORE, key);
  }
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, body);
}

export async function getJSON(path, options) {
  const response = await request(path, options);
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

export function postJSON(path, body) {
  return getJSON(path, { method: "POST", body });
}

// POST a file (a Blob) as the body, typed `type`; the JSON answer.
export function postFile(path, file, type) {
  return getJSON(path, { method: "POST", body: file, type });
}

export function deleteJSON(path) {
  return getJSON(path, { method: "DELETE" });
}

// A download (a CSV export) as a Blob, with the API key like any other request.
export async function getBlob(path) {
  const response = await request(path);
  if (!response.ok) throw await errorFrom(response);
  return response.blob();
}

// A text answer (a page of CSV results).
export async function getText(path, options) {
  const response = await request(path, options);
  if (!response.ok) throw await errorFrom(response);
  return response.text();
}

// POST `body` and yield each Server-Sent Event as `{ event, data }`: its name (`event:`,
// "message" when absent) and its `data:` parsed as JSON (api/sse.py).
export async function* postEvents(path, body, signal) {
  const response = await request(path, { method: "POST", body, signal });
  if (!response.ok) throw await errorFrom(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "";
  let data = [];
  const field = (line, prefix) => line.slice(line.startsWith(`${prefix}: `) ? prefix.length + 2 : prefix.length + 1);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // A CR at the very end may be half of a CRLF: keep it for the next chunk.
      const end = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, end).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(end);
      for (const line of lines) {
        if (line === "") {
          // As EventSource does: an event without data lines is not dispatched.
          if (data.length) yield { event: name || "message", data: JSON.parse(data.join("\n")) };
          name = "";
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(field(line, "data"));
        } else if (line.startsWith("event:")) {
          name = field(line, "event");
        }
        // `id:`, `retry:` and `: ping` comments carry nothing we need.
      }
    }
  } finally {
    reader.cancel().catch(() => {}); // the consumer stopped early, or the stream ended
  }
}
