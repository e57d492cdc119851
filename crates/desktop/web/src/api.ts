// The services over gRPC-Web on the page's own origin, with the signed-in credential on every call.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, PreconditionFailureSchema } from "./gen/google/rpc/error_details_pb";
import { AccountService } from "./gen/recoup/v1/account_pb";
import { CallService } from "./gen/recoup/v1/call_pb";
import { EventService } from "./gen/recoup/v1/event_pb";
import { FloorService } from "./gen/recoup/v1/floor_pb";
import { GuidanceService } from "./gen/recoup/v1/guidance_pb";
import { PlanService } from "./gen/recoup/v1/plan_pb";
import { ReportingService } from "./gen/recoup/v1/report_pb";

const STORAGE_KEY = "recoup.credential";

/** The credential lives in this tab's sessionStorage only: closing the tab signs out. */
export const credential = {
  get: (): string => sessionStorage.getItem(STORAGE_KEY) ?? "",
  set: (value: string) => sessionStorage.setItem(STORAGE_KEY, value),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

const bearer: Interceptor = (next) => (req) => {
  const token = credential.get();
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};

const transport = createGrpcWebTransport({
  baseUrl: window.location.origin,
  interceptors: [bearer],
});

export const accounts = createClient(AccountService, transport);
export const calls = createClient(CallService, transport);
export const events = createClient(EventService, transport);
export const floor = createClient(FloorService, transport);
export const guidance = createClient(GuidanceService, transport);
export const plans = createClient(PlanService, transport);
export const reporting = createClient(ReportingService, transport);

/** An error as the desktop shows it: the server's message, and problems by request field. */
export interface Problem {
  code: Code;
  message: string;
  fields: Map<string, string>;
  /** PreconditionFailure lines: a contact rule, a claim held by someone else, ... */
  conditions: string[];
}

export function problem(error: unknown): Problem {
  const e = ConnectError.from(error);
  const fields = new Map<string, string>();
  for (const bad of e.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) {
      fields.set(v.field, fields.has(v.field) ? `${fields.get(v.field)}; ${v.description}` : v.description);
    }
  }
  const conditions = e
    .findDetails(PreconditionFailureSchema)
    .flatMap((p) => p.violations.map((v) => v.description));
  return { code: e.code, message: e.rawMessage, fields, conditions };
}

/** A fresh idempotency key: a retry of the same action must reuse it. */
export function requestId(): string {
  return crypto.randomUUID();
}

export { Code };
