/** What every page needs: the runtime config, the session, the API client and the caller. */
import { createContext, useContext } from "react";
import { useQuery } from "@tanstack/react-query";
import type { Api, Me, Role } from "../api/client";
import { unwrap } from "../api/problems";
import type { RuntimeConfig } from "../auth/runtimeConfig";
import type { Session } from "../auth/session";

export interface Services {
  config: RuntimeConfig;
  session: Session;
  api: Api;
  /** Flipped by sign-in, sign-out and a 401, so guarded routes re-render. */
  signedIn: boolean;
  setSignedIn: (value: boolean) => void;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices outside <ServicesContext>");
  return services;
}

export function useApi(): Api {
  return useServices().api;
}

const RANK: Record<Role, number> = { viewer: 0, developer: 1, admin: 2 };

/** True when `role` includes `needed` (Viewer < Developer < Admin). */
export function roleAllows(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

export function useMe() {
  const { api, signedIn } = useServices();
  return useQuery({
    queryKey: ["me"],
    enabled: signedIn,
    queryFn: async (): Promise<Me> => unwrap(await api.GET("/v1/me")),
    staleTime: 30_000,
  });
}

/** Whether the caller may do what needs `needed`; false until their role is known. */
export function useCan(needed: Role): boolean {
  return roleAllows(useMe().data?.role, needed);
}
