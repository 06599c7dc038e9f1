-- 007: how an incident came in (office | open311) and the text a staff member made public:
-- Open311 shows residents' reports only, and no free text unless staff made it public.
ALTER TABLE gridmap.incidents ADD COLUMN channel text, ADD COLUMN public_note text;
