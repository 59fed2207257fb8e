// The lead's input fields, as LeadInput in src/leadq/schemas/lead.py defines them.
// tests/web checks these lists against LEAD_FIELDS, so the two cannot drift apart.

// Column order of files and downloads (LEAD_FIELDS).
export const LEAD_COLUMNS = [
  "lead_id", "lead_name", "email", "company_name", "industry", "company_size",
  "annual_revenue", "job_title", "website", "engagement_history", "additional_context",
];

// The form, in the order a person fills it in. `max` is the server's length limit.
export const FORM_FIELDS = [
  { name: "lead_name", label: "Name", required: true, max: 200, autocomplete: "name", placeholder: "Ann Lee" },
  { name: "company_name", label: "Company", required: true, max: 200, autocomplete: "organization", placeholder: "Acme Corp" },
  { name: "job_title", label: "Job title", max: 200, autocomplete: "organization-title", placeholder: "VP Sales" },
  { name: "email", label: "Email", max: 320, type: "email", autocomplete: "email", placeholder: "ann@acme.example" },
  { name: "industry", label: "Industry", max: 200, placeholder: "SaaS" },
  { name: "company_size", label: "Company size", max: 100, placeholder: "100-500", hint: "Employees, as people write it: 350, 100-500, 1k+" },
  { name: "annual_revenue", label: "Annual revenue", max: 100, placeholder: "$10M", hint: "$10M, EUR 2.5bn, 2,5 Mio €" },
  { name: "website", label: "Website", max: 500, inputmode: "url", placeholder: "acme.example.com" },
  { name: "lead_id", label: "Your lead id", max: 200, placeholder: "CRM-1042", hint: "Your CRM's id. The same id again adds to the lead's history." },
  { name: "engagement_history", label: "Engagement history", max: 4000, multiline: true, placeholder: "Visited pricing 3x, requested a demo" },
  { name: "additional_context", label: "Additional context", max: 4000, multiline: true, placeholder: "Recently funded Series B" },
];

// A sample lead, for "Fill in an example".
export const EXAMPLE_LEAD = {
  lead_name: "John Doe",
  company_name: "Acme Corp",
  industry: "SaaS",
  company_size: "100-500",
  annual_revenue: "$10M",
  job_title: "VP Sales",
  website: "acme.example.com",
  engagement_history: "Visited pricing 3x, opened 2 emails, requested a demo",
  additional_context: "Recently funded Series B, evaluating vendors this quarter",
};
