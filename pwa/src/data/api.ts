// The server's HTTP API, same origin. Errors come back as `{error, message}`; `ApiError`
// keeps the code so that client-core can say what it means for the sign-in.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** No answer at all: offline, or the server is unreachable. */
export class Unreachable extends Error {}

/**
 * Makes a request of the API and returns the response if it succeeded; throws `ApiError`
 * with the server's error code if it did not, and `Unreachable` if there was no answer.
 */
export async function send(method: string, path: string, token?: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new Unreachable(String(error));
  }
  if (response.ok) return response;
  const text = await response.text();
  let code = 'http_' + response.status;
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: string; message?: string };
    code = parsed.error ?? code;
    message = parsed.message ?? message;
  } catch {
    // Not ours (a proxy's page, say): the status is all there is.
  }
  throw new ApiError(response.status, code, message);
}

/** A JSON request and its JSON answer. */
export async function call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
  const text = await (await send(method, path, token, body)).text();
  return (text ? JSON.parse(text) : undefined) as T;
}
