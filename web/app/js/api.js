// The console's one fetch wrapper: JSON in and out, the CSRF token of the
// session on every state-changing call, 401 back to sign-in, 403 shown with
// the node's reason.

const csrfKey = 'sanzi.csrf';

// hooks are set by the shell: unauthorized() shows the sign-in page,
// forbidden(err) shows the reason of a refusal.
export const hooks = { unauthorized: () => {}, forbidden: () => {} };

export function csrf() {
  return sessionStorage.getItem(csrfKey) || '';
}

export function setCSRF(token) {
  if (token) sessionStorage.setItem(csrfKey, token);
  else sessionStorage.removeItem(csrfKey);
}

// ApiError is a refused or failed call: status (HTTP), code (gRPC),
// reason (the node's message) and fields (names of the refused fields).
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body ? body.code : undefined;
    this.reason = (body && body.message) || '';
    this.details = (body && body.details) || [];
    this.retryAfter = retryAfter ? Number(retryAfter) : 0;
    this.fields = [];
    for (const d of this.details) {
      for (const v of d.fieldViolations || []) this.fields.push(v.field);
    }
  }
}

// api calls the node. opts.quiet: the caller handles 401 and 403 itself
// (sign-in, the first /v1/me).
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf();
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, { message: String(e && e.message ? e.message : e) });
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (resp.ok) return data || {};
  const err = new ApiError(resp.status, data, resp.headers.get('Retry-After'));
  if (!opts.quiet) {
    if (resp.status === 401) hooks.unauthorized(err);
    if (resp.status === 403) hooks.forbidden(err);
  }
  throw err;
}

// query builds "?a=1&b=2" from the non-empty values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
