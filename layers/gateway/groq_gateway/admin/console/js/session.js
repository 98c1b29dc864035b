// The signed-in admin: the key lives in this tab's sessionStorage only (gone when the tab
// closes), and who it is comes from GET /openai/v1/admin/me.

const STORAGE_KEY = "groq-gateway-console-admin-key";

export const adminKey = () => sessionStorage.getItem(STORAGE_KEY);
export const remember = (key) => sessionStorage.setItem(STORAGE_KEY, key);
export const forget = () => sessionStorage.removeItem(STORAGE_KEY);

/** What a role may do, as the console offers it (the API checks every call itself). */
export function abilities(me) {
  const org = me.role === "full" || me.role === "read_only";
  return {
    org,
    teams: org ? null : me.teams ?? [],
    manageKeys: me.role === "full" || me.role === "team_admin",
    manageTeams: me.role === "full",
    seeTeams: org,
  };
}
